import { BatchClient } from '@aws-sdk/client-batch';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { CloudEnv } from '../../lib/cli/env';
import { captureTerminal } from '../../lib/cli/ui/terminal';
import type { CloudClients } from '../../lib/cloud/clients';
import { type DISCOVERY_KEYS, discoveryParameter } from '../../lib/layout';

export const STACK = 'BnnPynq';
export const INSTANCE = 'i-0123456789abcdef0';
export const DISCOVERED: Record<(typeof DISCOVERY_KEYS)[number], string> = {
  'dataset-bucket': 'bnnpynq-datasets-123',
  'artifact-bucket': 'bnnpynq-artifacts-123',
  'instance-id': INSTANCE,
  'log-group': '/bnn-pynq/BnnPynq',
  'train-document': 'BnnPynq-Train-abc',
  'convert-document': 'BnnPynq-Convert-abc',
  'bootstrap-state': 'ready: gpu',
};

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };

/** An SDK error as the SDK throws it: a name, a message and response metadata. */
export function awsError(name: string, message = name, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

/** A clock whose sleeps return at once and move time forward, so waiting loops run in microseconds. */
export function fakeClock(start = Date.UTC(2026, 10, 26, 7, 0, 0)) {
  const clock = {
    t: start,
    sleeps: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
      clock.sleeps++;
    },
  };
  return clock;
}

/**
 * Mocked SSM/EC2/Logs/CloudFormation clients (aws-sdk-client-mock), and an S3 client: the loopback
 * server's when given, else a mocked one.
 */
export function mockedCloud(options: { s3?: S3Client; discovery?: Partial<typeof DISCOVERED> | null } = {}) {
  const mk = <T>(C: new (c: object) => T) => new C({ region: 'eu-west-1', credentials });
  const ssm = mk(SSMClient);
  const ec2 = mk(EC2Client);
  const logs = mk(CloudWatchLogsClient);
  const cfn = mk(CloudFormationClient);
  const s3 = options.s3 ?? mk(S3Client);
  const sts = mk(STSClient);
  const iam = mk(IAMClient);
  const quotas = mk(ServiceQuotasClient);
  const batch = mk(BatchClient);
  const ecr = mk(ECRClient);
  const codebuild = mk(CodeBuildClient);
  /** Other regions' EC2 (preflight's nearby-region question): one mocked client, told apart by its region. */
  const ec2Elsewhere = mk(EC2Client);
  const mocks = {
    sts: mockClient(sts),
    iam: mockClient(iam),
    quotas: mockClient(quotas),
    batch: mockClient(batch),
    ecr: mockClient(ecr),
    codebuild: mockClient(codebuild),
    ec2Elsewhere: mockClient(ec2Elsewhere),
    ssm: mockClient(ssm),
    ec2: mockClient(ec2),
    logs: mockClient(logs),
    cfn: mockClient(cfn),
    s3: options.s3 ? undefined : mockClient(s3),
  };
  if (options.discovery !== null) {
    const values = { ...DISCOVERED, ...options.discovery };
    mocks.ssm.on(GetParametersByPathCommand).resolves({
      Parameters: Object.entries(values).map(([k, v]) => ({
        Name: discoveryParameter(STACK, k as (typeof DISCOVERY_KEYS)[number]),
        Value: v,
      })),
    });
  }
  const ec2InRegions: string[] = [];
  const clients: CloudClients = {
    ssm,
    ec2,
    logs,
    cfn,
    s3,
    sts,
    iam,
    quotas,
    batch,
    ecr,
    codebuild,
    ec2In: (region: string) => {
      ec2InRegions.push(region);
      return ec2Elsewhere;
    },
  };
  const term = captureTerminal();
  const clock = fakeClock();
  const env: CloudEnv = { clients, term, clock, stackName: STACK, region: 'eu-west-1' };
  return { env, mocks, term, clock, clients, ec2InRegions };
}
