import type { Command } from 'commander';
import { discoverStack } from '../../cloud/discovery';
import { describeInstance, ensureReady, stopInstance } from '../../cloud/instance';
import { positiveInt } from '../args';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { startSpinner } from '../ui/spinner';

/** `bnn-pynq start`: start the instance and wait until SSM sees it and the bootstrap is ready. */
export async function runStart(env: CloudEnv, options: { timeout?: number } = {}): Promise<void> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const spinner = startSpinner(env.term, `checking instance ${stack.instanceId}`, env.clock.now);
  try {
    const { started, bootstrap } = await ensureReady(env.clients, stack, {
      clock: env.clock,
      timeoutMs: (options.timeout ?? 30) * 60_000,
      onStage: ({ stage }) => spinner.update(`waiting: ${stage}`),
    });
    spinner.succeed(
      `instance ${stack.instanceId} ${started ? 'started and ' : 'already running, '}ready (${bootstrap.raw})`,
    );
  } catch (err) {
    spinner.fail(`instance ${stack.instanceId} not ready`);
    throw err;
  }
}

/** `bnn-pynq stop`: stop the instance (a running training run resumes from its checkpoint on the next start). */
export async function runStop(env: CloudEnv, options: { wait?: boolean } = {}): Promise<void> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const inst = await describeInstance(env.clients, stack.instanceId);
  if (inst.state === 'stopped') {
    env.term.err(`instance ${inst.id} is already stopped\n`);
    return;
  }
  await stopInstance(env.clients, stack.instanceId);
  if (!options.wait) {
    env.term.err(`stopping instance ${inst.id} (was ${inst.state}); storage costs continue, compute stops\n`);
    return;
  }
  const spinner = startSpinner(env.term, `stopping instance ${inst.id}`, env.clock.now);
  for (;;) {
    const now = await describeInstance(env.clients, stack.instanceId);
    if (now.state === 'stopped') break;
    spinner.update(`waiting: instance ${now.state}`);
    await env.clock.sleep(5_000);
  }
  spinner.succeed(`instance ${inst.id} stopped`);
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('start')
      .description('Start the training instance and wait until SSM sees it and its bootstrap is ready')
      .option('--timeout <minutes>', 'how long to wait', positiveInt('--timeout'), 30),
  ).action(async (options: CloudOptions & { timeout: number }) => runStart(ctx.cloudEnv(options), options));
  addCloudOptions(
    program
      .command('stop')
      .description('Stop the training instance (an unfinished run resumes from its checkpoint on start)')
      .option('--wait', 'wait until it is stopped'),
  ).action(async (options: CloudOptions & { wait?: boolean }) => runStop(ctx.cloudEnv(options), options));
}
