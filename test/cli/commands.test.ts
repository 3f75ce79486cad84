import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { type Command, CommanderError } from 'commander';
import { nonNegativeInt, positiveInt } from '../../lib/cli/args';
import type { CliContext, CloudEnv } from '../../lib/cli/env';
import { buildProgram } from '../../lib/cli/main';
import { discoveryParameter } from '../../lib/layout';
import { INSTANCE, mockedCloud, STACK } from '../cloud/support';
import { SHARED_DATA } from '../support/cli';

/** The real commander program, its actions given `env` instead of the process's terminal and AWS clients. */
async function run(env: CloudEnv, args: string[]): Promise<{ error?: CommanderError; stderr: string }> {
  const ctx: CliContext = { env: () => env, cloudEnv: (o) => ({ ...env, stackName: o.stack }) };
  let stderr = '';
  const program = buildProgram(['node', 'bnn-pynq', ...args], ctx);
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => {} });
    c.commands.forEach(quiet);
  };
  quiet(program);
  try {
    await program.parseAsync(['node', 'bnn-pynq', ...args]);
    return { stderr };
  } catch (err) {
    if (err instanceof CommanderError) return { error: err, stderr };
    throw err;
  }
}

function readyCloud() {
  const cloud = mockedCloud();
  cloud.mocks.ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' } }] }],
  });
  cloud.mocks.ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
  cloud.mocks.ssm
    .on(GetParameterCommand)
    .resolves({ Parameter: { Name: discoveryParameter(STACK, 'bootstrap-state'), Value: 'ready: gpu' } });
  cloud.mocks.ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
  cloud.mocks.ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success' });
  return cloud;
}

test('`train --seed 0` sends seed 0 to the train document (0 is its default seed)', async () => {
  const { env, mocks, term } = readyCloud();
  const { error } = await run(env, ['train', '--seed', '0', '--epochs', '1']);
  expect(error).toBeUndefined();
  const input = mocks.ssm.commandCalls(SendCommandCommand)[0]?.args[0].input;
  expect(input?.Parameters?.seed).toEqual(['0']);
  expect(input?.Parameters?.epochs).toEqual(['1']);
  expect(term.stdout).toMatch(/^\d{8}-\d{6}-fashion-mnist-[0-9a-f]{4}\n$/);
});

test.each([
  ['-1', 'a whole number 0..999999999'],
  ['1.5', 'a whole number 0..999999999'],
  ['1000000000', 'a whole number 0..999999999'],
  ['', 'a whole number 0..999999999'],
])('`train --seed "%s"` is refused before any AWS call', async (value, why) => {
  const { env, mocks } = readyCloud();
  const { error, stderr } = await run(env, ['train', '--seed', value]);
  expect(error?.exitCode).toBe(1);
  expect(stderr).toContain(
    `error: option '--seed <n>' argument '${value}' is invalid. --seed must be ${why}, got "${value}"`,
  );
  expect(mocks.ssm.calls()).toHaveLength(0);
});

test('`train --select` takes only the rules the train document knows', async () => {
  const { env, mocks } = readyCloud();
  const { error, stderr } = await run(env, ['train', '--select', 'accuracy']);
  expect(error?.exitCode).toBe(1);
  expect(stderr).toContain(
    "error: option '--select <rule>' argument 'accuracy' is invalid. Allowed choices are board, argmax.",
  );
  expect(mocks.ssm.calls()).toHaveLength(0);
  const ok = readyCloud();
  expect((await run(ok.env, ['train', '--select', 'argmax'])).error).toBeUndefined();
  expect(ok.mocks.ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.select).toEqual([
    'argmax',
  ]);
});

test('`dataset import --seed 0` is a seed like any other; 2^32 is not', () => {
  const seed = nonNegativeInt('--seed', 0xffffffff);
  expect(seed('0')).toBe(0);
  expect(seed('4294967295')).toBe(4294967295);
  expect(() => seed('4294967296')).toThrow('--seed must be a whole number 0..4294967295, got "4294967296"');
  expect(() => seed('0x10')).toThrow('got "0x10"');
  expect(() => positiveInt('--epochs')('0')).toThrow('--epochs must be a positive whole number, got "0"');
});

test('an offline command writes to the injected terminal and resolves paths in the injected folder', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'cli-env-'));
  const { env, term } = mockedCloud();
  const model = path.join(SHARED_DATA, 'npz', 'mnist-lfc-w1a1-reconstructed.npz');
  const { error } = await run({ ...env, cwd }, ['convert', model, '--out', 'params', '--dataset', 'mnist']);
  expect(error).toBeUndefined();
  expect(term.stdout.startsWith(`wrote ${path.join(cwd, 'params', 'mnist', 'lfcW1A1')}/ (289 files`)).toBe(
    true,
  );
  expect(existsSync(path.join(process.cwd(), 'params', 'mnist'))).toBe(false);
  expect(readdirSync(path.join(cwd, 'params', 'mnist', 'lfcW1A1'))).toHaveLength(289);
});
