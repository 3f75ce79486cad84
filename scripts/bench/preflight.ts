/**
 * The preflight budget (≤ 5 s): `bnn-pynq preflight` against aws-sdk-client-mock clients that answer
 * every call after an artificial 200 ms, as a slow connection to AWS would. Measures the wall time the
 * user waits (calls run in parallel: about three round trips) and the CPU time it costs.
 */
import { BatchClient } from '@aws-sdk/client-batch';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import {
  GetServiceQuotaCommand,
  ListRequestedServiceQuotaChangeHistoryByQuotaCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { runPreflightCommand } from '../../lib/cli/commands/preflight';
import { captureTerminal } from '../../lib/cli/ui/terminal';
import type { CloudClients } from '../../lib/cloud/clients';
import { realClock } from '../../lib/cloud/instance';

// As createClients does for the CLI: no multi-line Node-20 notice in the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const LATENCY_MS = 200;
const delay = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), LATENCY_MS));
const delayReject = (err: Error) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(err), LATENCY_MS));

function slowAccount(): CloudClients {
  const mk = <T>(C: new (c: object) => T) =>
    new C({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'x' } });
  const [sts, iam, quotas, ec2, ssm, cfn] = [
    mk(STSClient),
    mk(IAMClient),
    mk(ServiceQuotasClient),
    mk(EC2Client),
    mk(SSMClient),
    mk(CloudFormationClient),
  ];
  mockClient(sts)
    .on(GetCallerIdentityCommand)
    .callsFake(() =>
      delay({ Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/Dev/bench' }),
    );
  mockClient(iam)
    .on(GetRoleCommand)
    .callsFake((input) =>
      delay({
        Role: {
          RoleName: input.RoleName,
          Arn: `arn:aws:iam::123456789012:role/${input.RoleName}`,
          Path: '/',
          RoleId: 'R',
          CreateDate: new Date(),
        },
      }),
    )
    .on(SimulatePrincipalPolicyCommand)
    .callsFake((input) =>
      delay({
        EvaluationResults: input.ActionNames.map((a: string) => ({
          EvalActionName: a,
          EvalDecision: 'allowed',
        })),
      }),
    );
  mockClient(quotas)
    .on(GetServiceQuotaCommand)
    .callsFake(() => delay({ Quota: { Value: 0 } }))
    .on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand)
    .callsFake(() => delay({ RequestedQuotas: [] }));
  mockClient(ec2)
    .on(DescribeInstanceTypeOfferingsCommand)
    .callsFake(() =>
      delay({
        InstanceTypeOfferings: [
          { InstanceType: 'g4dn.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1a' },
        ],
      }),
    )
    .on(DescribeAvailabilityZonesCommand)
    .callsFake(() => delay({ AvailabilityZones: [{ ZoneName: 'eu-west-1a', State: 'available' }] }))
    .on(DescribeImagesCommand)
    .callsFake((input) =>
      delay({
        Images: [
          {
            ImageId: input.ImageIds[0],
            RootDeviceName: '/dev/sda1',
            BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 75 } }],
          },
        ],
      }),
    )
    .on(DescribeInstancesCommand)
    .callsFake(() => delay({ Reservations: [] }))
    .on(DescribeInstanceTypesCommand)
    .callsFake(() =>
      delay({ InstanceTypes: [{ InstanceType: 'g4dn.xlarge', VCpuInfo: { DefaultVCpus: 4 } }] }),
    );
  mockClient(ssm)
    .on(GetParameterCommand)
    .callsFake((input) =>
      delay({
        Parameter: { Name: input.Name, Value: input.Name.startsWith('/cdk-bootstrap') ? '30' : 'ami-0bench' },
      }),
    );
  mockClient(cfn)
    .on(DescribeStacksCommand)
    .callsFake(() =>
      delayReject(
        Object.assign(new Error('Stack with id BnnPynq does not exist'), { name: 'ValidationError' }),
      ),
    );
  return {
    sts,
    iam,
    quotas,
    ec2,
    ssm,
    cfn,
    s3: mk(S3Client),
    logs: mk(CloudWatchLogsClient),
    batch: mk(BatchClient),
    ecr: mk(ECRClient),
    codebuild: mk(CodeBuildClient),
    ec2In: () => ec2,
  };
}

interface PreflightBench {
  wallMs: number;
  cpuMs: number;
  latencyMs: number;
  checks: number;
}

/** One preflight run (after a warm-up that loads the modules) against the slow mocks. */
export async function benchPreflight(): Promise<PreflightBench> {
  const once = async () => {
    const term = captureTerminal();
    await runPreflightCommand(
      { clients: slowAccount(), term, clock: realClock, stackName: 'BnnPynq' },
      {},
    ).catch(
      () => undefined, // quota 0 blocks: the bench measures time, not the verdict
    );
    return term.stdout.split('\n').filter((l) => /^[✔✘!?-] /.test(l)).length;
  };
  await once();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const checks = await once();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, latencyMs: LATENCY_MS, checks };
}

if (require.main === module) {
  benchPreflight().then((r) =>
    process.stdout.write(
      `preflight ${r.wallMs.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU  (${r.checks} checks, every AWS call mocked with ${r.latencyMs} ms latency; budget 5000 ms)\n`,
    ),
  );
}
