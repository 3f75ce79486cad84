import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationServiceException, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  GetRoleCommand,
  IAMServiceException,
  NoSuchEntityException,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AccessDeniedException,
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListRequestedServiceQuotaChangeHistoryByQuotaCommand,
  NoSuchResourceException,
  QuotaExceededException,
  RequestServiceQuotaIncreaseCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-service-quotas';
import { GetParameterCommand, GetParametersByPathCommand, ParameterNotFound } from '@aws-sdk/client-ssm';
import { ExpiredTokenException, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { CredentialsProviderError } from '@smithy/core/config';
import { mockClient } from 'aws-sdk-client-mock';
import { runPreflightCommand } from '../../lib/cli/commands/preflight';
import { runStatus } from '../../lib/cli/commands/status';
import { AMI_PARAMETERS } from '../../lib/config';
import { ALTERNATIVE_INSTANCE_TYPES } from '../../lib/placement/zone';
import { callerPrincipal } from '../../lib/preflight/principal';
import { mockedCloud } from '../cloud/support';
import { runCli } from '../support/cli';

const ACCOUNT = '123456789012';
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/alice`;
const REGION = 'eu-west-1';
const meta = { $metadata: { httpStatusCode: 400 } };

/** A cdk.json like the project's, with `context` overrides. */
function cdkJson(context: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-'));
  const file = path.join(dir, 'cdk.json');
  writeFileSync(
    file,
    JSON.stringify({
      app: 'npx tsx bin/app.ts',
      context: { stackName: 'BnnPynq', instanceType: 'g4dn.xlarge', spot: false, ...context },
    }),
  );
  return file;
}

const allowed = (actions: string[]) => ({
  EvaluationResults: actions.map((a) => ({
    EvalActionName: a,
    EvalResourceName: '*',
    EvalDecision: 'allowed' as const,
  })),
});

/** Every call answered as a ready account would answer it (real response shapes). */
function readyAccount() {
  const cloud = mockedCloud({ discovery: null });
  const { mocks } = cloud;
  mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: USER_ARN, UserId: 'AIDAEXAMPLE' });
  mocks.cfn.on(DescribeStacksCommand).rejects(
    new CloudFormationServiceException({
      name: 'ValidationError',
      $fault: 'client',
      ...meta,
      message: 'Stack with id BnnPynq does not exist',
    }),
  );
  mocks.ssm
    .on(GetParameterCommand, { Name: '/cdk-bootstrap/hnb659fds/version' })
    .resolves({
      Parameter: { Name: '/cdk-bootstrap/hnb659fds/version', Type: 'String', Value: '30', Version: 1 },
    })
    .on(GetParameterCommand, { Name: AMI_PARAMETERS.gpu })
    .resolves({
      Parameter: { Name: AMI_PARAMETERS.gpu, Type: 'String', Value: 'ami-0abcdef1234567890', Version: 42 },
    })
    .on(GetParameterCommand, { Name: AMI_PARAMETERS.cpu })
    .resolves({
      Parameter: { Name: AMI_PARAMETERS.cpu, Type: 'String', Value: 'ami-0cpu0000000000000', Version: 7 },
    });
  mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].flatMap((az) => [
      { InstanceType: 'g4dn.xlarge', LocationType: 'availability-zone', Location: az },
      { InstanceType: 'g5.xlarge', LocationType: 'availability-zone', Location: az },
    ]),
  });
  mocks.ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  mocks.ec2.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: ['a', 'b', 'c'].map((z) => ({
      ZoneName: `eu-west-1${z}`,
      ZoneId: `euw1-az${z}`,
      State: 'available' as const,
      ZoneType: 'availability-zone',
      RegionName: REGION,
    })),
  });
  // The AMIs' root devices: the Deep Learning AMI's 75 GiB snapshot, Ubuntu's 8 GiB.
  const image = (id: string, gib: number) => ({
    ImageId: id,
    RootDeviceName: '/dev/sda1',
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/sda1',
        Ebs: { SnapshotId: 'snap-0123', VolumeSize: gib, VolumeType: 'gp3' as const },
      },
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
    ],
  });
  mocks.ec2.on(DescribeImagesCommand).callsFake(async (input) => ({
    Images: [image(input.ImageIds[0], input.ImageIds[0] === 'ami-0cpu0000000000000' ? 8 : 75)],
  }));
  mocks.ec2.on(DescribeInstanceTypesCommand).callsFake(async (input) => ({
    InstanceTypes: [
      {
        InstanceType: input.InstanceTypes[0],
        VCpuInfo: { DefaultVCpus: input.InstanceTypes[0] === 'c7i.4xlarge' ? 16 : 4 },
      },
    ],
  }));
  mocks.quotas.on(GetServiceQuotaCommand).resolves({
    Quota: {
      ServiceCode: 'ec2',
      QuotaCode: 'L-DB2E81BA',
      QuotaName: 'Running On-Demand G and VT instances',
      Value: 8,
    },
  });
  mocks.quotas.on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand).resolves({ RequestedQuotas: [] });
  mocks.iam
    .on(GetRoleCommand)
    .rejects(new NoSuchEntityException({ ...meta, message: 'The role with name X cannot be found.' }));
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake(async (input) => allowed(input.ActionNames));
  return cloud;
}

async function run(
  cloud: ReturnType<typeof readyAccount>,
  options: Parameters<typeof runPreflightCommand>[1] = {},
  file = cdkJson(),
) {
  let error: Error | undefined;
  await runPreflightCommand({ ...cloud.env, cdkJson: file }, options).catch((e: Error) => {
    error = e;
  });
  const lines = cloud.term.stdout.split('\n').filter(Boolean);
  const line = (label: string) => lines.find((l) => l.slice(2).startsWith(label)) ?? `(no ${label} line)`;
  return { error, lines, line, out: cloud.term.stdout };
}

test('a ready account: every check ✔, one line each, exit 0 with the deploy command', async () => {
  const cloud = readyAccount();
  const r = await run(cloud);
  expect(r.error).toBeUndefined();
  expect(r.lines).toEqual([
    `✔ credentials        account ${ACCOUNT} as ${USER_ARN}`,
    `✔ region             ${REGION}`,
    `✔ stack              BnnPynq not deployed yet in ${REGION} (a first deploy)`,
    `✔ cdk bootstrap      version 30 in ${REGION} (qualifier hnb659fds); 33 is current, \`npx cdk bootstrap\` upgrades it (optional)`,
    `✔ instance type      g4dn.xlarge offered in eu-west-1a, eu-west-1b, eu-west-1c; the deploy places it in eu-west-1a`,
    `✔ vCPU quota         8 vCPUs for on-demand G and VT instances (L-DB2E81BA, ${REGION}); g4dn.xlarge (on-demand) needs 4, none in use`,
    `✔ AMI                ami-0abcdef1234567890 (gpu: ${AMI_PARAMETERS.gpu}); root snapshot 75 GiB, rootVolumeGiB 100`,
    expect.stringMatching(
      /^✔ deploy permissions arn:aws:iam::123456789012:user\/alice may sts:AssumeRole, iam:CreateServiceLinkedRole$/,
    ),
    expect.stringMatching(
      /^✔ CLI permissions {4}arn:aws:iam::123456789012:user\/alice may iam:PassRole, ssm:GetParametersByPath, /,
    ),
    expect.stringMatching(
      /^nothing blocks a deploy to eu-west-1 \(checked in \d+\.\d s\): `npx cdk deploy`$/,
    ),
  ]);
  // The simulation asked about the bootstrap roles of this account and region, and the alarm's service-linked role.
  const sims = cloud.mocks.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
  expect(sims.every((s) => s.PolicySourceArn === USER_ARN)).toBe(true);
  expect(sims[0]?.ResourceArns).toEqual([
    `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-deploy-role-${ACCOUNT}-${REGION}`,
    `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-file-publishing-role-${ACCOUNT}-${REGION}`,
    `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-lookup-role-${ACCOUNT}-${REGION}`,
  ]);
  expect(sims.find((s) => s.ActionNames?.includes('iam:CreateServiceLinkedRole'))?.ContextEntries).toEqual([
    {
      ContextKeyName: 'iam:AWSServiceName',
      ContextKeyValues: ['events.amazonaws.com'],
      ContextKeyType: 'string',
    },
  ]);
  expect(
    sims.find((s) => s.ActionNames?.includes('iam:PassRole'))?.ContextEntries?.[0]?.ContextKeyValues,
  ).toEqual(['ssm.amazonaws.com']);
  // One offerings call covers the type and its alternatives, per availability zone.
  expect(cloud.mocks.ec2.commandCalls(DescribeInstanceTypeOfferingsCommand)[0]?.args[0].input).toEqual({
    LocationType: 'availability-zone',
    Filters: [
      {
        Name: 'instance-type',
        Values: ['g4dn.xlarge', ...ALTERNATIVE_INSTANCE_TYPES.filter((t) => t !== 'g4dn.xlarge')],
      },
    ],
  });
});

test('a new account: G/VT quota 0 blocks, names the quota and the fix, exit 1', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).rejects(
    new NoSuchResourceException({
      ...meta,
      message: 'The request failed because the specified service quota does not exist.',
    }),
  );
  cloud.mocks.quotas
    .on(GetAWSDefaultServiceQuotaCommand)
    .resolves({ Quota: { QuotaCode: 'L-DB2E81BA', Value: 0 } });
  const r = await run(cloud);
  expect(r.line('vCPU quota')).toBe(
    `✘ vCPU quota         0 vCPUs for on-demand G and VT instances (L-DB2E81BA, ${REGION}); g4dn.xlarge (on-demand) needs 4, none in use: run \`bnn-pynq preflight --request-quota\` (AWS usually answers within hours)`,
  );
  expect(r.error?.message).toMatch(
    /^1 check blocks a deploy to eu-west-1 \(checked in .* s\): fix the ✘ line above/,
  );
  expect((r.error as { exitCode?: number }).exitCode).toBe(1);
});

test("running instances of the group count against the quota (not spot ones, not the stack's own)", async () => {
  const cloud = readyAccount();
  const instance = (type: string, cores: number, extra: object = {}) => ({
    InstanceId: `i-${type.replace('.', '')}`,
    InstanceType: type as never,
    State: { Name: 'running' as const, Code: 16 },
    CpuOptions: { CoreCount: cores, ThreadsPerCore: 2 },
    ...extra,
  });
  cloud.mocks.ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      { Instances: [instance('g5.xlarge', 2)] },
      { Instances: [instance('g4dn.2xlarge', 4, { InstanceLifecycle: 'spot' })] },
      {
        Instances: [
          instance('g4dn.xlarge', 2, { Tags: [{ Key: 'aws:cloudformation:stack-name', Value: 'BnnPynq' }] }),
        ],
      },
    ],
  });
  cloud.mocks.quotas.on(RequestServiceQuotaIncreaseCommand).resolves({
    RequestedQuota: {
      Id: 'req-2',
      DesiredValue: 8,
      Status: 'PENDING',
      Created: new Date('2026-12-01T10:00:00Z'),
    },
  });
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 6 } });
  const r = await run(cloud, { requestQuota: true, yes: true });
  expect(r.line('vCPU quota')).toBe(
    `✘ vCPU quota         6 vCPUs for on-demand G and VT instances (L-DB2E81BA, ${REGION}); g4dn.xlarge (on-demand) needs 4, 4 in use by 1 running instance: run \`bnn-pynq preflight --request-quota\` (AWS usually answers within hours)`,
  );
  expect(r.out).toContain('current 6 vCPUs -> desired 8 vCPUs (one g4dn.xlarge (4) + 4 in use)');
  expect(
    cloud.mocks.quotas.commandCalls(RequestServiceQuotaIncreaseCommand)[0]?.args[0].input.DesiredValue,
  ).toBe(8);
  expect(cloud.mocks.ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
    { Name: 'instance-state-name', Values: ['pending', 'running'] },
    { Name: 'instance-type', Values: ['g*', 'vt*'] },
  ]);
});

test('spot: the spot quota L-3819A6DF is the one checked', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas
    .on(GetServiceQuotaCommand, { QuotaCode: 'L-3819A6DF' })
    .resolves({ Quota: { Value: 0 } });
  const r = await run(cloud, { context: { spot: 'true' } });
  expect(r.line('vCPU quota')).toContain(
    '✘ vCPU quota         0 vCPUs for spot G and VT instances (L-3819A6DF',
  );
  // Spot also needs the Spot service-linked role.
  const sims = cloud.mocks.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
  expect(sims.flatMap((s) => s.ResourceArns ?? [])).toContain(
    `arn:aws:iam::${ACCOUNT}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot`,
  );
});

test('an open quota request is shown with its status instead of asking again', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  cloud.mocks.quotas.on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand).resolves({
    RequestedQuotas: [
      {
        Id: 'old',
        QuotaCode: 'L-DB2E81BA',
        DesiredValue: 4,
        Status: 'DENIED',
        Created: new Date('2026-10-01T00:00:00Z'),
      },
      {
        Id: 'abc123',
        QuotaCode: 'L-DB2E81BA',
        DesiredValue: 4,
        Status: 'CASE_OPENED',
        CaseId: '17123456789',
        Created: new Date('2026-11-30T09:00:00Z'),
      },
    ],
  });
  const r = await run(cloud, { requestQuota: true, yes: true });
  expect(r.line('vCPU quota')).toBe(
    `✘ vCPU quota         0 vCPUs for on-demand G and VT instances (L-DB2E81BA, ${REGION}); g4dn.xlarge (on-demand) needs 4, none in use; request abc123 for 4 vCPUs filed 2026-11-30 is CASE_OPENED (support case 17123456789): wait for AWS's answer (usually hours), then run preflight again`,
  );
  expect(r.out).toContain(
    'request abc123 for 4 vCPUs filed 2026-11-30 is CASE_OPENED (support case 17123456789): not filing another',
  );
  expect(cloud.mocks.quotas.commandCalls(RequestServiceQuotaIncreaseCommand)).toHaveLength(0);
});

test('--request-quota shows what it asks for, files it with --yes, and prints the request', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  cloud.mocks.quotas.on(RequestServiceQuotaIncreaseCommand).resolves({
    RequestedQuota: {
      Id: 'req-1',
      QuotaCode: 'L-DB2E81BA',
      DesiredValue: 4,
      Status: 'PENDING',
      Created: new Date('2026-12-01T10:00:00Z'),
    },
  });
  const r = await run(cloud, { requestQuota: true, yes: true });
  expect(r.out).toContain(
    `request: EC2 quota L-DB2E81BA "Running On-Demand G and VT instances" in ${REGION}: current 0 vCPUs -> desired 4 vCPUs (one g4dn.xlarge (4))\n`,
  );
  expect(cloud.mocks.quotas.commandCalls(RequestServiceQuotaIncreaseCommand)[0]?.args[0].input).toEqual({
    ServiceCode: 'ec2',
    QuotaCode: 'L-DB2E81BA',
    DesiredValue: 4,
  });
  expect(r.out).toContain(
    'filed: request req-1 for 4 vCPUs filed 2026-12-01 is PENDING; `bnn-pynq preflight` shows its status',
  );
  // The deploy is still blocked until AWS approves.
  expect((r.error as { exitCode?: number }).exitCode).toBe(1);
});

test('--request-quota without --yes: asks, and files nothing on "no"; refuses with no terminal', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  const questions: string[] = [];
  const err = await runPreflightCommand(
    {
      ...cloud.env,
      cdkJson: cdkJson(),
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    },
    { requestQuota: true },
  ).catch((e: Error) => e);
  expect(questions).toEqual(['File this request? [y/N] ']);
  expect(cloud.term.stdout).toContain('not filed\n');
  expect((err as { exitCode?: number }).exitCode).toBe(1);

  const headless = readyAccount();
  headless.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  await expect(
    runPreflightCommand({ ...headless.env, cdkJson: cdkJson() }, { requestQuota: true }),
  ).rejects.toThrow(
    'not filing the quota request: no terminal to confirm on; re-run with `--request-quota --yes` to file it',
  );
  expect(headless.mocks.quotas.commandCalls(RequestServiceQuotaIncreaseCommand)).toHaveLength(0);
});

test('--request-quota: a request AWS already has open, and a refused permission, are one line each', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  cloud.mocks.quotas
    .on(RequestServiceQuotaIncreaseCommand)
    .rejectsOnce(
      new ResourceAlreadyExistsException({
        ...meta,
        message: 'Only one open service quota increase request is allowed per quota.',
      }),
    )
    .rejectsOnce(new AccessDeniedException({ ...meta, message: 'not authorized' }))
    .rejectsOnce(new QuotaExceededException({ ...meta, message: 'You have exceeded your service quota.' }));
  await expect(
    runPreflightCommand({ ...cloud.env, cdkJson: cdkJson() }, { requestQuota: true, yes: true }),
  ).rejects.toThrow(
    `a request to increase L-DB2E81BA in ${REGION} is already open: run \`bnn-pynq preflight\` to see its status`,
  );
  await expect(
    runPreflightCommand({ ...cloud.env, cdkJson: cdkJson() }, { requestQuota: true, yes: true }),
  ).rejects.toThrow(
    /^your identity may not request quota increases \(AccessDeniedException\): ask your administrator to allow servicequotas:RequestServiceQuotaIncrease, or request L-DB2E81BA = 4 in the Service Quotas console$/,
  );
  await expect(
    runPreflightCommand({ ...cloud.env, cdkJson: cdkJson() }, { requestQuota: true, yes: true }),
  ).rejects.toThrow(
    'AWS refuses more open quota requests for this account right now (QuotaExceededException): wait for the open ones to be decided',
  );
});

test('a type offered nowhere in the region: names the types offered here and the regions that offer it', async () => {
  const cloud = readyAccount();
  cloud.mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: [
      { InstanceType: 'g5.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1b' },
      { InstanceType: 'g6.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1a' },
      { InstanceType: 'g6.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1c' },
    ],
  });
  // Each nearby region answers for itself.
  const asked: string[] = [];
  cloud.env.clients.ec2In = (region: string) => {
    asked.push(region);
    const client = new EC2Client({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    mockClient(client)
      .on(DescribeInstanceTypeOfferingsCommand)
      .resolves({
        InstanceTypeOfferings:
          region === 'eu-central-1' || region === 'eu-west-2'
            ? [{ InstanceType: 'g4dn.xlarge', LocationType: 'region', Location: region }]
            : [],
      });
    return client;
  };
  const r = await run(cloud);
  expect(asked).toEqual(['eu-central-1', 'eu-west-2', 'eu-north-1', 'eu-west-3']);
  expect(r.line('instance type')).toBe(
    `✘ instance type      g4dn.xlarge is not offered in any Availability Zone of ${REGION}; offered there: g5.xlarge (eu-west-1b), g6.xlarge (eu-west-1a, eu-west-1c). Deploy with -c instanceType=<one of these>, or to another region. Regions that offer g4dn.xlarge: eu-central-1, eu-west-2 (--region / AWS_REGION).`,
  );
  expect(r.error?.message).toMatch(/^1 check blocks a deploy/);
});

test('a configured availabilityZone that lacks the type blocks, naming one that has it', async () => {
  const cloud = readyAccount();
  cloud.mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: [
      { InstanceType: 'g4dn.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1b' },
    ],
  });
  const r = await run(cloud, { context: { availabilityZone: 'eu-west-1a' } });
  expect(r.line('instance type')).toBe(
    `✘ instance type      g4dn.xlarge is not offered in eu-west-1a (-c availabilityZone); in ${REGION} it is offered in eu-west-1b: pass one of these, or leave availabilityZone unset to have it chosen.`,
  );
});

test('no CDK bootstrap in the region (SSM ParameterNotFound): the bootstrap command with account and region', async () => {
  const cloud = readyAccount();
  cloud.mocks.ssm
    .on(GetParameterCommand, { Name: '/cdk-bootstrap/hnb659fds/version' })
    .rejects(new ParameterNotFound({ ...meta, message: '' }));
  const r = await run(cloud);
  expect(r.line('cdk bootstrap')).toBe(
    `✘ cdk bootstrap      not bootstrapped in ${REGION} (no /cdk-bootstrap/hnb659fds/version): run \`npx cdk bootstrap aws://${ACCOUNT}/${REGION}\` (once per account and region, ~2 min)`,
  );
});

test('an old bootstrap, and a custom qualifier from cdk.json', async () => {
  const cloud = readyAccount();
  cloud.mocks.ssm
    .on(GetParameterCommand, { Name: '/cdk-bootstrap/myqual/version' })
    .resolves({ Parameter: { Value: '5' } });
  const r = await run(cloud, {}, cdkJson({ '@aws-cdk/core:bootstrapQualifier': 'myqual' }));
  expect(r.line('cdk bootstrap')).toBe(
    `✘ cdk bootstrap      version 5 in ${REGION} is older than the 8 this CDK needs: run \`npx cdk bootstrap aws://${ACCOUNT}/${REGION}\` (upgrades it in place)`,
  );
});

test('a root volume smaller than the AMI snapshot blocks, as the deploy would', async () => {
  const cloud = readyAccount();
  const r = await run(cloud, { context: { rootVolumeGiB: '60' } });
  expect(r.line('AMI')).toBe(
    '✘ AMI                rootVolumeGiB=60 is smaller than the root snapshot of the AMI ami-0abcdef1234567890 (75 GiB): deploy with -c rootVolumeGiB=75 or more.',
  );
});

test('the AMI parameter does not exist in the region; a CPU type checks the Ubuntu parameter', async () => {
  const cloud = readyAccount();
  cloud.mocks.ssm
    .on(GetParameterCommand, { Name: AMI_PARAMETERS.gpu })
    .rejects(new ParameterNotFound({ ...meta, message: '' }));
  const r = await run(cloud);
  expect(r.line('AMI')).toBe(
    `✘ AMI                ${AMI_PARAMETERS.gpu} does not exist in ${REGION}: the Deep Learning (OSS Nvidia driver) AMI is not published there; deploy to another region (e.g. us-east-1, eu-west-1)`,
  );

  const cpu = readyAccount();
  cpu.mocks.quotas.on(GetServiceQuotaCommand, { QuotaCode: 'L-1216C47A' }).resolves({ Quota: { Value: 32 } });
  cpu.mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: [{ InstanceType: 'c7i.4xlarge', Location: 'eu-west-1a' }],
  });
  const c = await run(cpu, { context: { instanceType: 'c7i.4xlarge' } });
  expect(c.line('AMI')).toBe(
    `✔ AMI                ami-0cpu0000000000000 (cpu: ${AMI_PARAMETERS.cpu}); root snapshot 8 GiB, rootVolumeGiB 100`,
  );
  expect(c.line('vCPU quota')).toContain('32 vCPUs for on-demand Standard instances (L-1216C47A');
  expect(c.line('vCPU quota')).toContain('c7i.4xlarge (on-demand) needs 16');
  expect(c.error).toBeUndefined();
});

test('missing permissions: deploy ones block (✘), CLI ones warn (!), each named with why', async () => {
  const cloud = readyAccount();
  cloud.mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake(async (input) => ({
    EvaluationResults: input.ActionNames.map((a: string) => ({
      EvalActionName: a,
      EvalResourceName: input.ResourceArns[0],
      EvalDecision: a === 'iam:CreateServiceLinkedRole' || a === 'iam:PassRole' ? 'implicitDeny' : 'allowed',
    })),
  }));
  const r = await run(cloud);
  expect(r.line('deploy permissions')).toBe(
    `✘ deploy permissions ${USER_ARN} may not iam:CreateServiceLinkedRole (the first deploy creates the service-linked role AWSServiceRoleForCloudWatchEvents (the idle alarm stops the instance)): ask your administrator to allow it (docs/permissions.md lists the policy)`,
  );
  expect(r.line('CLI permissions')).toBe(
    `! CLI permissions    ${USER_ARN} may not iam:PassRole (\`bnn-pynq convert-run\` starts the convert automation with its role): ask your administrator to allow it (docs/permissions.md lists the policy)`,
  );
  expect(r.error?.message).toMatch(/^1 check blocks/);
});

test('an existing service-linked role needs no iam:CreateServiceLinkedRole', async () => {
  const cloud = readyAccount();
  cloud.mocks.iam.on(GetRoleCommand, { RoleName: 'AWSServiceRoleForCloudWatchEvents' }).resolves({
    Role: {
      RoleName: 'AWSServiceRoleForCloudWatchEvents',
      Arn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents`,
      Path: '/aws-service-role/events.amazonaws.com/',
      RoleId: 'AROAEXAMPLE',
      CreateDate: new Date(),
    },
  });
  const r = await run(cloud);
  const actions = cloud.mocks.iam
    .commandCalls(SimulatePrincipalPolicyCommand)
    .flatMap((c) => c.args[0].input.ActionNames ?? []);
  expect(actions).not.toContain('iam:CreateServiceLinkedRole');
  expect(r.line('deploy permissions')).toBe(`✔ deploy permissions ${USER_ARN} may sts:AssumeRole`);
});

test('simulation itself denied: "could not check", naming what to make sure of; not a blocker', async () => {
  const cloud = readyAccount();
  cloud.mocks.iam.on(SimulatePrincipalPolicyCommand).rejects(
    new IAMServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: `User: ${USER_ARN} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: ${USER_ARN}`,
    }),
  );
  const r = await run(cloud);
  expect(r.line('deploy permissions')).toBe(
    `? deploy permissions could not check (your identity may not call iam:SimulatePrincipalPolicy on ${USER_ARN}): make sure you may sts:AssumeRole, iam:CreateServiceLinkedRole`,
  );
  expect(r.line('CLI permissions')).toMatch(
    /^\? CLI permissions {4}could not check \(.*\): make sure you may iam:PassRole, ssm:GetParametersByPath/,
  );
  expect(r.error).toBeUndefined();
});

test('an assumed-role session is simulated as its role, with the path iam:GetRole reports', async () => {
  const cloud = readyAccount();
  const session = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com`;
  const role = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd`;
  cloud.mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: session });
  cloud.mocks.iam.on(GetRoleCommand, { RoleName: 'AWSReservedSSO_Admin_0123abcd' }).resolves({
    Role: {
      RoleName: 'AWSReservedSSO_Admin_0123abcd',
      Arn: role,
      Path: '/aws-reserved/sso.amazonaws.com/eu-west-1/',
      RoleId: 'AROA',
      CreateDate: new Date(),
    },
  });
  await run(cloud);
  const sources = cloud.mocks.iam
    .commandCalls(SimulatePrincipalPolicyCommand)
    .map((c) => c.args[0].input.PolicySourceArn);
  expect(new Set(sources)).toEqual(new Set([role]));
});

test('caller ARNs map to what simulation takes', () => {
  expect(callerPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/ci-42`)).toMatchObject({
    kind: 'role',
    arn: `arn:aws:iam::${ACCOUNT}:role/Deployer`,
  });
  expect(callerPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Dev_ab12/bob`).arn).toBe(
    `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_ab12`,
  );
  expect(callerPrincipal(`arn:aws-cn:iam::${ACCOUNT}:user/ops/carol`)).toEqual({
    kind: 'user',
    arn: `arn:aws-cn:iam::${ACCOUNT}:user/ops/carol`,
  });
  expect(callerPrincipal(`arn:aws:iam::${ACCOUNT}:root`).kind).toBe('root');
  expect(callerPrincipal(`arn:aws:sts::${ACCOUNT}:federated-user/dave`).kind).toBe('unsupported');
});

test('expired credentials (STS ExpiredTokenException): one ✘ line that says what to do, the rest not checked', async () => {
  const cloud = readyAccount();
  cloud.mocks.sts.on(GetCallerIdentityCommand).rejects(
    new ExpiredTokenException({
      ...meta,
      message: 'The security token included in the request is expired',
    }),
  );
  const r = await run(cloud);
  expect(r.lines.slice(0, 3)).toEqual([
    '✘ credentials        your AWS credentials have expired (sts:GetCallerIdentity): refresh them (`aws sso login`, or new session keys) and retry',
    `✔ region             ${REGION}`,
    '- stack              not checked: needs working credentials',
  ]);
  expect(r.lines.filter((l) => l.startsWith('- '))).toHaveLength(7);
  expect((r.error as { exitCode?: number }).exitCode).toBe(1);
});

test('no credentials at all (CredentialsProviderError)', async () => {
  const cloud = readyAccount();
  cloud.mocks.sts
    .on(GetCallerIdentityCommand)
    .rejects(
      new CredentialsProviderError('Could not load credentials from any providers', { tryNextLink: false }),
    );
  const r = await run(cloud);
  expect(r.line('credentials')).toBe(
    '✘ credentials        no AWS credentials found: run `aws configure` (or `aws sso login --profile <name>`), or pass --profile / set AWS_PROFILE',
  );
});

test('a stack left in ROLLBACK_COMPLETE by a failed first deploy blocks, with the fix', async () => {
  const cloud = readyAccount();
  cloud.mocks.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'BnnPynq', StackStatus: 'ROLLBACK_COMPLETE', CreationTime: new Date() }],
  });
  const r = await run(cloud);
  expect(r.line('stack')).toBe(
    `✘ stack              BnnPynq is ROLLBACK_COMPLETE in ${REGION} (a failed first deploy): delete it with \`npx cdk destroy\` (buckets with data are kept), then deploy again`,
  );
});

test('-c overrides are validated like cdk synth validates them', async () => {
  const cloud = readyAccount();
  await expect(
    runPreflightCommand({ ...cloud.env, cdkJson: cdkJson() }, { context: { instanceType: 'g3.4xlarge' } }),
  ).rejects.toThrow(
    /^invalid config 'instanceType' = 'g3.4xlarge': g3 has a GPU the pinned Theano\/libgpuarray cannot use/,
  );
  // A misspelled key is refused as synth refuses it (cdk.json's own feature flags are not).
  await expect(
    runPreflightCommand(
      { ...cloud.env, cdkJson: cdkJson({ '@aws-cdk/core:newStyleStackSynthesis': true }) },
      {
        context: { instanceTyp: 'g5.xlarge' },
      },
    ),
  ).rejects.toThrow(/^unknown config key 'instanceTyp': did you mean 'instanceType'\?/);
  expect(cloud.mocks.sts.calls()).toHaveLength(0);
});

describe('the real bin', () => {
  /** No AWS configuration anywhere, so nothing can reach AWS. */
  const noAws = (extra: Record<string, string> = {}) => {
    const home = mkdtempSync(path.join(tmpdir(), 'no-aws-'));
    const env: Record<string, string | undefined> = {};
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) env[k] = undefined;
    return {
      ...env,
      HOME: home,
      AWS_CONFIG_FILE: path.join(home, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extra,
    };
  };

  test('no region: the region line says what to do, every other check is "not checked", exit 1', async () => {
    const res = await runCli(['preflight'], { env: noAws() });
    expect(res.status).toBe(1);
    expect(res.stdout.split('\n')).toEqual([
      '- credentials        not checked: needs a region',
      '✘ region             no AWS region set: pass --region <region>, set AWS_REGION, or set a region in your profile (`aws configure`)',
      ...[
        'stack',
        'cdk bootstrap',
        'instance type',
        'vCPU quota',
        'AMI',
        'deploy permissions',
        'CLI permissions',
      ].map((l) => `- ${l.padEnd(19)}not checked: needs a region`),
      '',
    ]);
    expect(res.stderr).toMatch(
      /^error: 1 check blocks a deploy to your region \(checked in \d+\.\d s\): fix the ✘ line above, then run `bnn-pynq preflight` again\n$/,
    );
  });

  test('a bad -c value: one error line, exit 2, before any AWS call', async () => {
    const res = await runCli(['preflight', '--region', 'eu-west-1', '-c', 'spot=maybe'], { env: noAws() });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      "error: invalid config 'spot' = 'maybe': must be true or false. Fix it in cdk.json \"context\" or pass -c spot=<value> (see docs/configuration.md).\n",
    );
    const bad = await runCli(['preflight', '-c', 'spot'], { env: noAws() });
    expect(bad.stderr).toBe('error: -c spot: expected key=value, e.g. -c instanceType=g5.xlarge\n');
    expect(bad.status).toBe(2);
  });
});

test('status before the first deploy prints the preflight, then the not-deployed error', async () => {
  const cloud = readyAccount();
  cloud.mocks.ssm.on(GetParametersByPathCommand).resolves({ Parameters: [] });
  cloud.mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 0 } });
  await expect(runStatus(cloud.env)).rejects.toThrow(
    `stack BnnPynq is not deployed in region ${REGION}: run \`npx cdk deploy\` first, or pass --stack/--region if you deployed it elsewhere`,
  );
  const lines = cloud.term.stdout.split('\n');
  expect(lines[0]).toBe(`stack:      BnnPynq not deployed in ${REGION}; preflight:`);
  expect(lines[1]).toBe(`✔ credentials        account ${ACCOUNT} as ${USER_ARN}`);
  expect(lines).toContain(
    `✘ vCPU quota         0 vCPUs for on-demand G and VT instances (L-DB2E81BA, ${REGION}); g4dn.xlarge (on-demand) needs 4, none in use: run \`bnn-pynq preflight --request-quota\` (AWS usually answers within hours)`,
  );
  expect(lines).toHaveLength(11);
});

test('a stack being deployed warns, an existing one is an update; root and federated callers', async () => {
  const busy = readyAccount();
  busy.mocks.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'BnnPynq', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }],
  });
  busy.mocks.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root` });
  const b = await run(busy);
  expect(b.line('stack')).toBe(
    `! stack              BnnPynq is UPDATE_IN_PROGRESS in ${REGION}: wait for it to finish before deploying`,
  );
  expect(b.line('deploy permissions')).toBe(
    '✔ deploy permissions you are the account root user, which may do everything (AWS advises deploying as an IAM user or role)',
  );
  expect(busy.mocks.iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(0);
  expect(b.error).toBeUndefined();

  const done = readyAccount();
  done.mocks.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'BnnPynq', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }],
  });
  done.mocks.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:federated-user/dave` });
  const d = await run(done);
  expect(d.line('stack')).toBe(
    `✔ stack              BnnPynq exists in ${REGION} (UPDATE_COMPLETE): a deploy updates it`,
  );
  expect(d.line('deploy permissions')).toBe(
    '? deploy permissions could not check (a federated-user session has no IAM policy to simulate): make sure you may sts:AssumeRole, iam:CreateServiceLinkedRole',
  );
});

test('a quota that cannot be read (Service Quotas AccessDeniedException) is "could not check", not a pass', async () => {
  const cloud = readyAccount();
  cloud.mocks.quotas.on(GetServiceQuotaCommand).rejects(
    new AccessDeniedException({
      ...meta,
      message: 'User is not authorized to perform servicequotas:GetServiceQuota',
    }),
  );
  const r = await run(cloud);
  expect(r.line('vCPU quota')).toMatch(
    /^\? vCPU quota {9}could not check the on-demand G and VT vCPU quota \(L-DB2E81BA\): access denied: your AWS identity may not call servicequotas:GetServiceQuota/,
  );
  expect(r.error).toBeUndefined();
  // --request-quota then has nothing it can plan.
  const again = readyAccount();
  again.mocks.quotas
    .on(GetServiceQuotaCommand)
    .rejects(new AccessDeniedException({ ...meta, message: 'denied' }));
  const q = await run(again, { requestQuota: true, yes: true });
  expect(q.out).toContain('the quota could not be read (see the vCPU quota line): nothing to request\n');
  expect(again.mocks.quotas.commandCalls(RequestServiceQuotaIncreaseCommand)).toHaveLength(0);
});
