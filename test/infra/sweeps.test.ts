import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SWEEP_INSTANCE_CLASSES, SWEEP_JOB_RESOURCES } from '../../lib/constructs/sweeps';
import { at } from '../../lib/defined';
import { discoveryParameter, SWEEP_DISCOVERY_KEYS } from '../../lib/layout';
import { buildApp } from '../../lib/stacks/bnn-pynq-stack';
import { SWEEP_JOB_ATTEMPTS, SWEEP_RETRY_RULES } from '../../lib/sweep/retry';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is untyped
type Cfn = any;

function build(context: Record<string, unknown> = {}) {
  const app = new App({ context });
  const stack = buildApp(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as Cfn };
}
const resourcesOf = (json: Cfn, type: string): [string, Cfn][] =>
  Object.entries(json.Resources as Record<string, Cfn>).filter(([, r]) => r.Type === type);
const only = (json: Cfn, type: string): [string, Cfn] => {
  const all = resourcesOf(json, type);
  expect(all).toHaveLength(1);
  return at(all, 0, `the ${type} resources`);
};
/** Every statement of every IAM policy attached to the role with this logical id. */
const statementsOf = (json: Cfn, roleId: string): Cfn[] =>
  resourcesOf(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as Cfn[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);

let built: ReturnType<typeof build>;
beforeAll(() => {
  built = build();
}, 120_000);

test('cdk-nag AwsSolutions: no unacknowledged finding in the sweeps construct', () => {
  const report = new AwsSolutionsChecks().validateScope(built.app);
  const sweepFindings = report.violations.filter((v) =>
    v.violatingResources.some((r) => r.constructPath?.includes('/Sweeps/')),
  );
  expect(sweepFindings.map((v) => `${v.ruleName} ${JSON.stringify(v.violatingResources)}`)).toEqual([]);
});

test('-c sweeps=false leaves the whole construct (and its discovery parameters) out', () => {
  const off = build({ sweeps: 'false' });
  expect(off.stack.sweeps).toBeUndefined();
  for (const type of [
    'AWS::Batch::ComputeEnvironment',
    'AWS::Batch::JobQueue',
    'AWS::Batch::JobDefinition',
    'AWS::ECR::Repository',
    'AWS::CodeBuild::Project',
  ]) {
    expect(resourcesOf(off.json, type)).toEqual([]);
  }
  const names = resourcesOf(off.json, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name);
  for (const key of SWEEP_DISCOVERY_KEYS) expect(names).not.toContain(discoveryParameter('BnnPynq', key));
});

describe('compute environments', () => {
  test('one Spot and one on-demand GPU environment: min 0 vCPUs, g4dn/g5/g6 only, ECS GPU AMI for AL2023', () => {
    const envs = resourcesOf(built.json, 'AWS::Batch::ComputeEnvironment').map(([, r]) => r.Properties);
    expect(envs.map((e) => e.ComputeResources.Type).sort()).toEqual(['EC2', 'SPOT']);
    for (const e of envs) {
      expect(e.Type).toBe('managed');
      expect(e.ComputeResources.MinvCpus).toBe(0);
      expect(e.ComputeResources.InstanceTypes).toEqual(['g4dn', 'g5', 'g6']);
      expect(e.ComputeResources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
    }
    expect(SWEEP_INSTANCE_CLASSES.map(String)).toEqual(['g4dn', 'g5', 'g6']);
    const spot = envs.find((e) => e.ComputeResources.Type === 'SPOT');
    expect(spot.ComputeResources.AllocationStrategy).toBe('SPOT_PRICE_CAPACITY_OPTIMIZED');
  });

  test('launch template: IMDSv2 only (hop limit 1), encrypted gp3 root of 100 GiB', () => {
    const [, lt] = resourcesOf(built.json, 'AWS::EC2::LaunchTemplate').find(([id]) =>
      id.startsWith('Sweeps'),
    ) as [string, Cfn];
    const data = lt.Properties.LaunchTemplateData;
    expect(data.MetadataOptions).toEqual(
      expect.objectContaining({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
    );
    expect(data.BlockDeviceMappings).toEqual([
      {
        DeviceName: '/dev/xvda',
        Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 100, VolumeType: 'gp3' },
      },
    ]);
  });
});

test('job queues cancel jobs stuck in RUNNABLE for capacity or resource reasons', () => {
  const queues = resourcesOf(built.json, 'AWS::Batch::JobQueue').map(([, r]) => r.Properties);
  expect(queues).toHaveLength(2);
  for (const q of queues) {
    expect(q.JobStateTimeLimitActions).toEqual([
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 4 * 3600,
        Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
        State: 'RUNNABLE',
      },
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 600,
        Reason: 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
        State: 'RUNNABLE',
      },
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 600,
        Reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
        State: 'RUNNABLE',
      },
    ]);
  }
});

describe('job definition', () => {
  test('1 GPU, 4 vCPUs, memory below the 16 GiB types, the image tagged by the scripts asset hash', () => {
    const [, def] = only(built.json, 'AWS::Batch::JobDefinition');
    const c = def.Properties.ContainerProperties;
    const req = Object.fromEntries((c.ResourceRequirements as Cfn[]).map((r) => [r.Type, r.Value]));
    expect(req).toEqual({ GPU: '1', VCPU: '4', MEMORY: String(SWEEP_JOB_RESOURCES.memoryMiB) });
    expect(SWEEP_JOB_RESOURCES.memoryMiB).toBeLessThan(15 * 1024);
    const tag = built.stack.training.scriptsAsset.assetHash;
    expect(JSON.stringify(c.Image)).toContain(`:${tag}`);
    expect(built.stack.sweeps?.imageTag).toBe(tag);
    expect(c.LinuxParameters.InitProcessEnabled).toBe(true);
    const env = Object.fromEntries((c.Environment as Cfn[]).map((e) => [e.Name, e.Value]));
    expect(env).toEqual(
      expect.objectContaining({
        BNN_BATCH: 'true',
        BNN_DEVICE_HINT: 'gpu',
        BNN_MAX_ATTEMPTS: String(SWEEP_JOB_ATTEMPTS),
      }),
    );
  });

  test('retry rules in this order: exit 2 exits, Host EC2* / 143 / any other code retry, the rest exits', () => {
    const [, def] = only(built.json, 'AWS::Batch::JobDefinition');
    expect(def.Properties.RetryStrategy).toEqual({
      Attempts: SWEEP_JOB_ATTEMPTS,
      EvaluateOnExit: [
        { Action: 'EXIT', OnExitCode: '2' },
        { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
        { Action: 'RETRY', OnExitCode: '143' },
        { Action: 'RETRY', OnExitCode: '*' },
        { Action: 'EXIT', OnStatusReason: '*' },
      ],
    });
    expect(SWEEP_RETRY_RULES).toHaveLength(5);
  });
});

describe('image build', () => {
  test('CodeBuild builds from the instance scripts asset (same bucket and key) and pushes the asset-hash tag', () => {
    const [, project] = only(built.json, 'AWS::CodeBuild::Project');
    const asset = built.stack.training.scriptsAsset;
    const stack = Stack.of(built.stack);
    expect(project.Properties.Source.Type).toBe('S3');
    expect(stack.resolve(project.Properties.Source.Location)).toEqual(
      stack.resolve(`${asset.s3BucketName}/${asset.s3ObjectKey}`),
    );
    expect(project.Properties.Environment.PrivilegedMode).toBe(true);
    const vars = Object.fromEntries(
      (project.Properties.Environment.EnvironmentVariables as Cfn[]).map((v) => [v.Name, v.Value]),
    );
    expect(vars.IMAGE_TAG).toBe(asset.assetHash);
    const spec = JSON.parse(project.Properties.Source.BuildSpec);
    expect(spec.phases.build.commands).toEqual([
      'docker build --pull -f batch/Dockerfile -t "$REPOSITORY_URI:$IMAGE_TAG" .',
      'docker push "$REPOSITORY_URI:$IMAGE_TAG"',
    ]);
  });

  test('ECR repository: immutable tags, scan on push, AES-256 at rest (ECR default), keeps a few images', () => {
    built.template.hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutability: 'IMMUTABLE',
      ImageScanningConfiguration: { ScanOnPush: true },
      // No EncryptionConfiguration = ECR's default AES-256 (a KMS key would be named here).
      EncryptionConfiguration: Match.absent(),
      LifecyclePolicy: Match.objectLike({ LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":3') }),
    });
  });
});

describe('roles', () => {
  test('the job role reads sweeps/ and datasets/ and writes runs/ only: no SSM, no EC2, no other prefix', () => {
    const sweeps = built.stack.sweeps;
    if (!sweeps) throw new Error('sweeps missing');
    const stack = Stack.of(built.stack);
    const roleId = stack.getLogicalId(sweeps.jobRole.node.defaultChild as Cfn);
    const statements = statementsOf(built.json, roleId);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.every((a: string) => a.startsWith('s3:'))).toBe(true);
    expect(actions).not.toContain('s3:DeleteObject');
    const resources = JSON.stringify(statements.map((s) => s.Resource));
    expect(resources).toContain('/sweeps/*');
    expect(resources).toContain('/runs/*');
    expect(resources).toContain('/datasets/*');
    expect(resources).not.toMatch(/"\/\*"/);
    const writes = statements.filter((s) => [s.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(writes)).not.toContain('/sweeps/*');
  });

  test('the execution role only pulls from the sweep repository and writes the job log group', () => {
    const sweeps = built.stack.sweeps;
    if (!sweeps) throw new Error('sweeps missing');
    const stack = Stack.of(built.stack);
    const statements = statementsOf(
      built.json,
      stack.getLogicalId(sweeps.executionRole.node.defaultChild as Cfn),
    );
    const actions = new Set(statements.flatMap((s) => [s.Action].flat()));
    expect([...actions].sort()).toEqual(
      [
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:GetAuthorizationToken',
        'ecr:GetDownloadUrlForLayer',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ].sort(),
    );
  });
});

test('discovery parameters for every sweep resource', () => {
  const names = resourcesOf(built.json, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name);
  for (const key of SWEEP_DISCOVERY_KEYS) expect(names).toContain(discoveryParameter('BnnPynq', key));
});
