import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import {
  DISCOVERY_KEYS,
  type DiscoveryKey,
  discoveryParameter,
  discoveryPrefix,
  SWEEP_DISCOVERY_KEYS,
  type SweepDiscoveryKey,
} from '../layout';
import { aws, awsErrorName, CloudError } from './aws-errors';
import type { CloudClients } from './clients';

/** The stack does not exist at all (as opposed to one still being created, or deployed by an older version). */
export class StackNotFoundError extends CloudError {
  constructor(message: string) {
    super('stack-not-deployed', message);
    this.name = 'StackNotFoundError';
  }
}

/** What the stack publishes for the CLI (SSM parameters `/bnn-pynq/<stack>/<key>`). */
export interface StackResources {
  stackName: string;
  datasetBucket: string;
  artifactBucket: string;
  instanceId: string;
  logGroup: string;
  trainDocument: string;
  convertDocument: string;
  /** The bootstrap state at discovery time (`pending`, `installing`, `ready: gpu`, `failed: <step>`, ...). */
  bootstrapState: string;
  /** The sweeps construct's names; undefined when the stack was deployed with `-c sweeps=false`. */
  sweeps?: SweepResources;
}

/** What `bnn-pynq sweep` needs (lib/constructs/sweeps.ts). */
export interface SweepResources {
  spotQueue: string;
  onDemandQueue: string;
  jobDefinition: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` */
  imageRepository: string;
  imageProject: string;
  imageTag: string;
}

const SWEEP_FIELD: Record<SweepDiscoveryKey, keyof SweepResources> = {
  'sweep-job-queue': 'spotQueue',
  'sweep-job-queue-on-demand': 'onDemandQueue',
  'sweep-job-definition': 'jobDefinition',
  'sweep-image-repository': 'imageRepository',
  'sweep-image-project': 'imageProject',
  'sweep-image-tag': 'imageTag',
};

const FIELD: Record<DiscoveryKey, keyof Omit<StackResources, 'stackName' | 'sweeps'>> = {
  'dataset-bucket': 'datasetBucket',
  'artifact-bucket': 'artifactBucket',
  'instance-id': 'instanceId',
  'log-group': 'logGroup',
  'train-document': 'trainDocument',
  'convert-document': 'convertDocument',
  'bootstrap-state': 'bootstrapState',
};

/**
 * Reads every discovery parameter of `stackName` in one paged call. When none exist, asks
 * CloudFormation whether the stack exists at all, so the message can say "not deployed" or
 * "deployed, but still in CREATE_IN_PROGRESS" instead of a bare ParameterNotFound.
 */
export async function discoverStack(
  clients: CloudClients,
  stackName: string,
  region: string | undefined,
): Promise<StackResources> {
  const values = new Map<string, string>();
  let nextToken: string | undefined;
  do {
    const page = await aws('ssm:GetParametersByPath', () =>
      clients.ssm.send(
        new GetParametersByPathCommand({
          Path: discoveryPrefix(stackName),
          Recursive: true,
          NextToken: nextToken,
        }),
      ),
    );
    for (const p of page.Parameters ?? []) if (p.Name && p.Value !== undefined) values.set(p.Name, p.Value);
    nextToken = page.NextToken;
  } while (nextToken);

  const where = region ? `region ${region}` : 'your default region';
  if (values.size === 0) {
    const stackStatus = await describeStackStatus(clients, stackName);
    const hint = `pass --stack/--region if you deployed it elsewhere`;
    if (stackStatus === undefined) {
      throw new StackNotFoundError(
        `stack ${stackName} is not deployed in ${where}: run \`npx cdk deploy\` first, or ${hint}`,
      );
    }
    throw new CloudError(
      'stack-not-deployed',
      `stack ${stackName} in ${where} is ${stackStatus} and has published no discovery parameters under ${discoveryPrefix(stackName)}: wait for \`npx cdk deploy\` to finish (or redeploy)`,
    );
  }
  const resources: Partial<Omit<StackResources, 'sweeps'>> & { sweeps?: SweepResources } = { stackName };
  const missing: string[] = [];
  for (const key of DISCOVERY_KEYS) {
    const value = values.get(discoveryParameter(stackName, key));
    if (value === undefined) missing.push(discoveryParameter(stackName, key));
    else resources[FIELD[key]] = value;
  }
  if (missing.length > 0) {
    throw new CloudError(
      'stack-not-deployed',
      `stack ${stackName} in ${where} lacks discovery parameter(s) ${missing.join(', ')}: it was deployed by an older version; run \`npx cdk deploy\` again`,
    );
  }
  const sweeps: Partial<SweepResources> = {};
  for (const key of SWEEP_DISCOVERY_KEYS) {
    const value = values.get(discoveryParameter(stackName, key));
    if (value !== undefined) sweeps[SWEEP_FIELD[key]] = value;
  }
  if (Object.keys(sweeps).length === SWEEP_DISCOVERY_KEYS.length) resources.sweeps = sweeps as SweepResources;
  return resources as StackResources;
}

/** The CloudFormation status of the stack, or undefined when it does not exist. */
async function describeStackStatus(clients: CloudClients, stackName: string): Promise<string | undefined> {
  try {
    const out = await clients.cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    return out.Stacks?.[0]?.StackStatus ?? undefined;
  } catch (err) {
    // CloudFormation reports a missing stack as a ValidationError "Stack with id X does not exist".
    if (awsErrorName(err) === 'ValidationError' && /does not exist/i.test(String((err as Error).message))) {
      return undefined;
    }
    return aws('cloudformation:DescribeStacks', () => Promise.reject(err));
  }
}
