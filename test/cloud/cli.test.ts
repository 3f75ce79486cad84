import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildProgram } from '../../lib/cli/main';
import { runCli } from '../support/cli';

const CLOUD_COMMANDS = [
  'preflight',
  'status',
  'start',
  'stop',
  'train',
  'watch',
  'logs',
  'runs',
  'convert-run',
  'fetch',
  'report',
];

/** An environment with no AWS credentials anywhere: no variables, no files, no instance metadata. */
function noAwsEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const home = mkdtempSync(path.join(tmpdir(), 'no-aws-home-'));
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env))
    if (k.startsWith('AWS_') || k.startsWith('BNN_PYNQ_')) env[k] = undefined;
  return {
    ...env,
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'none', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none', 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** `bnn-pynq <command> --help`, in process (the same commander program the bin runs). */
function helpOf(command: string): string {
  const program = buildProgram();
  let out = '';
  const cmd = program.commands.find((c) => c.name() === command);
  if (!cmd) throw new Error(`no command ${command}`);
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

test.each(CLOUD_COMMANDS)(
  '`%s --help` documents the global options --stack, --region, --profile',
  (command) => {
    const help = helpOf(command);
    expect(help).toMatch(new RegExp(`^Usage: bnn-pynq ${command} `));
    expect(help).toContain('--stack <name>');
    expect(help).toContain('(default: "BnnPynq")');
    expect(help).toContain('--region <region>');
    expect(help).toContain('--profile <name>');
  },
);

test('the commands of the issue have their own options', () => {
  expect(helpOf('train')).toMatch(
    /--dataset <name>[\s\S]*--epochs <n>[\s\S]*--wb <bits>[\s\S]*--ab <bits>[\s\S]*--keep-running[\s\S]*-f, --follow/,
  );
  expect(helpOf('logs')).toMatch(
    /Usage: bnn-pynq logs \[options\] \[runId\][\s\S]*-f, --follow[\s\S]*--bootstrap/,
  );
  expect(helpOf('fetch')).toMatch(
    /--run <runId>[\s\S]*--out <dir>\s+local params folder[\s\S]*\(default: "\.\/params"\)[\s\S]*--bucket <name>/,
  );
  expect(helpOf('convert-run')).toMatch(/Usage: bnn-pynq convert-run \[options\] <runId>[\s\S]*--no-publish/);
  expect(helpOf('report')).toMatch(
    /Usage: bnn-pynq report \[options\] <runId>[\s\S]*--out <file>[\s\S]*--local <dir>/,
  );
});

test('`bnn-pynq train --help` from the real bin exits 0', async () => {
  const res = await runCli(['train', '--help']);
  expect(res.status).toBe(0);
  expect(res.stdout).toContain('Usage: bnn-pynq train [options]');
  expect(res.stderr).toBe('');
});

test('no AWS credentials: one line that says what to do, exit 3', async () => {
  const res = await runCli(['status', '--region', 'eu-west-1'], { env: noAwsEnv() });
  expect(res.stderr).toBe(
    'error: no AWS credentials found: run `aws configure` (or `aws sso login --profile <name>`), or pass --profile / set AWS_PROFILE\n',
  );
  expect(res.status).toBe(3);
  expect(res.stdout).toBe('');
});

test('no region: one line that says what to do', async () => {
  const res = await runCli(['runs'], {
    env: noAwsEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }),
  });
  expect(res.stderr).toBe(
    'error: no AWS region set: pass --region <region> (the one you deployed to), set AWS_REGION, or set a region in your profile\n',
  );
  expect(res.status).toBe(3);
});

test('a bad option value is refused before any AWS call', async () => {
  const res = await runCli(['train', '--epochs', '0'], { env: noAwsEnv() });
  expect(res.status).not.toBe(0);
  expect(res.stderr).toContain(
    "error: option '--epochs <n>' argument '0' is invalid. --epochs must be a positive whole number, got \"0\"",
  );
});
