import { BatchClient } from '@aws-sdk/client-batch';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { S3_ENDPOINT_ENV, s3EndpointOptions } from '../s3-endpoint';
import { noteRequestedProfile } from './aws-errors';

/** The SDK clients the cloud commands use; tests inject mocked or loopback ones. */
export interface CloudClients {
  ssm: SSMClient;
  s3: S3Client;
  ec2: EC2Client;
  logs: CloudWatchLogsClient;
  cfn: CloudFormationClient;
  sts: STSClient;
  iam: IAMClient;
  quotas: ServiceQuotasClient;
  /** Sweeps (`bnn-pynq sweep`): Batch jobs, the image in ECR, its CodeBuild project. */
  batch: BatchClient;
  ecr: ECRClient;
  codebuild: CodeBuildClient;
  /** An EC2 client of another region (preflight asks nearby regions whether they offer a type). */
  ec2In(region: string): EC2Client;
}

export interface ConnectionOptions {
  region?: string;
  profile?: string;
}

/**
 * Builds the clients from --region / --profile (falling back to the SDK's usual chain: AWS_REGION,
 * AWS_PROFILE, ~/.aws/config). Clients are created lazily, so a command that needs only S3 never
 * resolves anything for SSM.
 */
export function createClients(
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv = process.env,
): CloudClients {
  // The project runs on Node 20 by decision; the SDK's multi-line "Node 20 support ends" warning would
  // otherwise precede every command's output. An explicit setting by the user wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  noteRequestedProfile(options.profile);
  const common = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const endpoint = env[S3_ENDPOINT_ENV];
  type Cached = Omit<CloudClients, 'ec2In'>;
  const cache: Partial<Cached> = {};
  const lazy = <K extends keyof Cached>(key: K, make: () => Cached[K]): Cached[K] => {
    const client = cache[key] ?? make();
    cache[key] = client;
    return client;
  };
  return {
    get ssm() {
      return lazy('ssm', () => new SSMClient(common));
    },
    get s3() {
      return lazy('s3', () => new S3Client({ ...common, ...s3EndpointOptions(endpoint) }));
    },
    get ec2() {
      return lazy('ec2', () => new EC2Client(common));
    },
    get logs() {
      return lazy('logs', () => new CloudWatchLogsClient(common));
    },
    get cfn() {
      return lazy('cfn', () => new CloudFormationClient(common));
    },
    get sts() {
      return lazy('sts', () => new STSClient(common));
    },
    get iam() {
      return lazy('iam', () => new IAMClient(common));
    },
    get quotas() {
      return lazy('quotas', () => new ServiceQuotasClient(common));
    },
    get batch() {
      return lazy('batch', () => new BatchClient(common));
    },
    get ecr() {
      return lazy('ecr', () => new ECRClient(common));
    },
    get codebuild() {
      return lazy('codebuild', () => new CodeBuildClient(common));
    },
    ec2In: (region) => new EC2Client({ ...common, region }),
  };
}
