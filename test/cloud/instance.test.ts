import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  type InstanceStateName,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  type DescribeInstanceInformationCommandOutput,
  GetParameterCommand,
  GetParametersByPathCommand,
  type PingStatus,
} from '@aws-sdk/client-ssm';
import { runStart, runStop } from '../../lib/cli/commands/instance';
import { CloudError } from '../../lib/cloud/aws-errors';
import { discoverStack } from '../../lib/cloud/discovery';
import { parseBootstrapState } from '../../lib/cloud/instance';
import { discoveryParameter } from '../../lib/layout';
import { awsError, DISCOVERED, INSTANCE, mockedCloud, STACK } from './support';

const instance = (state: string): DescribeInstancesCommandOutput => ({
  Reservations: [
    {
      Instances: [
        { InstanceId: INSTANCE, InstanceType: 'g4dn.xlarge', State: { Name: state as InstanceStateName } },
      ],
    },
  ],
  $metadata: {},
});
const ping = (status: string): DescribeInstanceInformationCommandOutput => ({
  InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: status as PingStatus }],
  $metadata: {},
});
const bootstrap = (value: string) => ({
  Parameter: { Name: discoveryParameter(STACK, 'bootstrap-state'), Value: value },
});

describe('discovery', () => {
  test('reads every value the stack publishes under /bnn-pynq/<stack>/', async () => {
    const { env, mocks } = mockedCloud();
    const stack = await discoverStack(env.clients, STACK, 'eu-west-1');
    expect(stack).toEqual({
      stackName: STACK,
      datasetBucket: DISCOVERED['dataset-bucket'],
      artifactBucket: DISCOVERED['artifact-bucket'],
      instanceId: INSTANCE,
      logGroup: DISCOVERED['log-group'],
      trainDocument: DISCOVERED['train-document'],
      convertDocument: DISCOVERED['convert-document'],
      bootstrapState: 'ready: gpu',
    });
    expect(mocks.ssm.commandCalls(GetParametersByPathCommand)[0]?.args[0].input).toMatchObject({
      Path: '/bnn-pynq/BnnPynq/',
      Recursive: true,
    });
  });

  test('stack not deployed: says so, with the region and what to do', async () => {
    const { env, mocks } = mockedCloud({ discovery: null });
    mocks.ssm.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    mocks.cfn
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id BnnPynq does not exist'));
    await expect(discoverStack(env.clients, STACK, 'eu-west-1')).rejects.toThrow(
      'stack BnnPynq is not deployed in region eu-west-1: run `npx cdk deploy` first, or pass --stack/--region if you deployed it elsewhere',
    );
  });

  test('stack still deploying: names its CloudFormation status', async () => {
    const { env, mocks } = mockedCloud({ discovery: null });
    mocks.ssm.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    mocks.cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: STACK, StackStatus: 'CREATE_IN_PROGRESS', CreationTime: new Date() }],
    });
    await expect(discoverStack(env.clients, STACK, 'eu-west-1')).rejects.toThrow(
      /stack BnnPynq in region eu-west-1 is CREATE_IN_PROGRESS .* wait for `npx cdk deploy` to finish/,
    );
  });

  test('an older stack missing a value is told to redeploy', async () => {
    const { env: env2, mocks } = mockedCloud({ discovery: null });
    mocks.ssm.on(GetParametersByPathCommand).resolves({
      Parameters: [{ Name: discoveryParameter(STACK, 'artifact-bucket'), Value: 'b' }],
    });
    await expect(discoverStack(env2.clients, STACK, undefined)).rejects.toThrow(
      /stack BnnPynq in your default region lacks discovery parameter\(s\) \/bnn-pynq\/BnnPynq\/dataset-bucket, .*: .*run `npx cdk deploy` again/,
    );
  });

  test('access denied on the discovery parameters is mapped', async () => {
    const { env, mocks } = mockedCloud({ discovery: null });
    mocks.ssm.on(GetParametersByPathCommand).rejects(awsError('AccessDeniedException', 'not authorized'));
    const err = await discoverStack(env.clients, STACK, 'eu-west-1').catch((e) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err.message).toBe(
      'access denied: your AWS identity may not call ssm:GetParametersByPath; use a profile that may (--profile), or ask your administrator to allow ssm:GetParametersByPath',
    );
  });
});

test('bootstrap states parse into phases', () => {
  expect(parseBootstrapState('ready: gpu')).toEqual({ phase: 'ready', device: 'gpu', raw: 'ready: gpu' });
  expect(parseBootstrapState('ready: cpu (gpu check failed: no NVRTC)')).toMatchObject({
    phase: 'ready',
    device: 'cpu',
    note: 'gpu check failed: no NVRTC',
  });
  expect(parseBootstrapState('failed: install-theano')).toMatchObject({
    phase: 'failed',
    step: 'install-theano',
  });
  expect(parseBootstrapState('installing')).toMatchObject({ phase: 'installing' });
  expect(parseBootstrapState('weird')).toMatchObject({ phase: 'unknown' });
});

describe('start', () => {
  test('starts a stopped instance and waits for EC2, the SSM agent and the bootstrap, saying what it waits for', async () => {
    const { env, mocks, term } = mockedCloud();
    mocks.ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(instance('stopped'))
      .resolvesOnce(instance('pending'))
      .resolves(instance('running'));
    mocks.ec2.on(StartInstancesCommand).resolves({});
    mocks.ssm
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [] })
      .resolves(ping('Online'));
    mocks.ssm
      .on(GetParameterCommand)
      .resolvesOnce(bootstrap('installing'))
      .resolvesOnce(bootstrap('installing'))
      .resolves(bootstrap('ready: gpu'));
    await runStart(env);
    expect(mocks.ec2.commandCalls(StartInstancesCommand)).toHaveLength(1);
    expect(mocks.ec2.commandCalls(StartInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [INSTANCE],
    });
    expect(term.stderr).toBe(
      [
        `... checking instance ${INSTANCE}`,
        '... waiting: instance starting (0s)',
        '... waiting: instance pending (5s)',
        '... waiting: SSM agent coming online (10s)',
        '... waiting: bootstrap installing (15s)',
        `ok instance ${INSTANCE} started and ready (ready: gpu) (25s)`,
        '',
      ].join('\n'),
    );
  });

  test('a running, ready instance is not started again', async () => {
    const { env, mocks, term } = mockedCloud();
    mocks.ec2.on(DescribeInstancesCommand).resolves(instance('running'));
    mocks.ssm.on(DescribeInstanceInformationCommand).resolves(ping('Online'));
    mocks.ssm.on(GetParameterCommand).resolves(bootstrap('ready: cpu (gpu check failed: libnvrtc)'));
    await runStart(env);
    expect(mocks.ec2.commandCalls(StartInstancesCommand)).toHaveLength(0);
    expect(term.stderr).toContain('already running, ready (ready: cpu (gpu check failed: libnvrtc))');
  });

  test('bootstrap failed at a step: says which, and where the log is', async () => {
    const { env, mocks, term } = mockedCloud();
    mocks.ec2.on(DescribeInstancesCommand).resolves(instance('running'));
    mocks.ssm.on(DescribeInstanceInformationCommand).resolves(ping('Online'));
    mocks.ssm.on(GetParameterCommand).resolves(bootstrap('failed: pip-install-theano'));
    const err = await runStart(env).catch((e) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect(err.kind).toBe('bootstrap-failed');
    expect(err.message).toBe(
      `the instance's bootstrap failed at step "pip-install-theano": read \`bnn-pynq logs --bootstrap\` (log group ${DISCOVERED['log-group']}); fix and reboot the instance, or redeploy`,
    );
    expect(term.stderr).toContain(`failed: instance ${INSTANCE} not ready`);
  });

  test('gives up after --timeout, naming what it was still waiting for', async () => {
    const { env, mocks } = mockedCloud();
    mocks.ec2.on(DescribeInstancesCommand).resolves(instance('running'));
    mocks.ssm.on(DescribeInstanceInformationCommand).resolves(ping('ConnectionLost'));
    await expect(runStart(env, { timeout: 2 })).rejects.toThrow(
      /^gave up after 2 min waiting for: SSM agent coming online\. Check `bnn-pynq status`/,
    );
  });

  test('a terminated instance and a still-stopping one get their own messages', async () => {
    const a = mockedCloud();
    a.mocks.ec2.on(DescribeInstancesCommand).resolves(instance('terminated'));
    await expect(runStart(a.env)).rejects.toThrow(
      `instance ${INSTANCE} is terminated: run \`npx cdk deploy\` to replace it`,
    );
    const b = mockedCloud();
    b.mocks.ec2.on(DescribeInstancesCommand).resolves(instance('stopped'));
    b.mocks.ec2
      .on(StartInstancesCommand)
      .rejects(
        awsError('IncorrectInstanceState', 'The instance is not in a state from which it can be started.'),
      );
    await expect(runStart(b.env)).rejects.toThrow(
      /is still stopping and cannot be started yet: wait a minute/,
    );
  });

  test('an instance id that no longer exists', async () => {
    const { env, mocks } = mockedCloud();
    mocks.ec2
      .on(DescribeInstancesCommand)
      .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${INSTANCE}' does not exist`));
    await expect(runStart(env)).rejects.toThrow(
      `the stack's instance ${INSTANCE} no longer exists: run \`npx cdk deploy\` to recreate it`,
    );
  });
});

describe('stop', () => {
  test('stops a running instance', async () => {
    const { env, mocks, term } = mockedCloud();
    mocks.ec2.on(DescribeInstancesCommand).resolves(instance('running'));
    mocks.ec2.on(StopInstancesCommand).resolves({});
    await runStop(env);
    expect(mocks.ec2.commandCalls(StopInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [INSTANCE],
    });
    expect(term.stderr).toBe(
      `stopping instance ${INSTANCE} (was running); storage costs continue, compute stops\n`,
    );
  });

  test('--wait waits for stopped; an already stopped instance is left alone', async () => {
    const { env, mocks, term } = mockedCloud();
    mocks.ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(instance('running'))
      .resolvesOnce(instance('stopping'))
      .resolves(instance('stopped'));
    mocks.ec2.on(StopInstancesCommand).resolves({});
    await runStop(env, { wait: true });
    expect(term.stderr).toContain(`ok instance ${INSTANCE} stopped (5s)`);
    await runStop(env);
    expect(mocks.ec2.commandCalls(StopInstancesCommand)).toHaveLength(1);
    expect(term.stderr).toContain(`instance ${INSTANCE} is already stopped`);
  });

  test('access denied on StopInstances is one line', async () => {
    const { env, mocks } = mockedCloud();
    mocks.ec2.on(DescribeInstancesCommand).resolves(instance('running'));
    mocks.ec2.on(StopInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized'));
    await expect(runStop(env)).rejects.toThrow(
      /^access denied: your AWS identity may not call ec2:StopInstances;/,
    );
  });
});
