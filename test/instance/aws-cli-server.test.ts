import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { must } from '../../lib/defined';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { AWS_CLI_CLIENT, awsServerSocket } from './support/instance';

// The instance tests' aws CLI fork server must be the real aws CLI in all a script can see: the same output,
// exit code and error text, the caller's stdin, working folder and environment, and a signal ends it as it
// ends /usr/bin/aws. Each case runs both ways and compares.

let s3: LocalS3;
let socket: string;
let dir: string;
beforeAll(async () => {
  s3 = await startLocalS3(['b']);
  socket = must(awsServerSocket(), 'the aws CLI fork server socket');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aws-fork-'));
});
afterAll(async () => {
  await s3.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Way = 'real' | 'forked';
const command = (way: Way, args: string[]): [string, string[]] =>
  way === 'real' ? ['/usr/bin/aws', args] : ['/usr/bin/python3', ['-S', AWS_CLI_CLIENT, ...args]];
const envOf = (way: Way, extra: Record<string, string> = {}) => ({
  PATH: '/usr/bin:/bin',
  HOME: dir,
  LANG: 'C.UTF-8',
  ...s3.env,
  ...(way === 'forked' ? { SHIM_AWS_SERVER: socket } : {}),
  ...extra,
});
function aws(
  way: Way,
  args: string[],
  options: { input?: string; cwd?: string } = {},
): SpawnSyncReturns<string> {
  const [file, argv] = command(way, ['--endpoint-url', s3.endpoint, ...args]);
  return spawnSync(file, argv, {
    env: envOf(way),
    encoding: 'utf8',
    input: options.input,
    cwd: options.cwd ?? dir,
  });
}
const both = (args: string[], options: { input?: string; cwd?: string } = {}) => {
  const real = aws('real', args, options);
  const forked = aws('forked', args, options);
  return { real, forked };
};
const shape = (r: SpawnSyncReturns<string>) => ({
  status: r.status,
  signal: r.signal,
  stdout: r.stdout,
  stderr: r.stderr,
});

test('stdin, stdout and the exit code are the caller’s', () => {
  expect(aws('forked', ['s3', 'cp', '-', 's3://b/from-stdin'], { input: 'hello\n' }).status).toBe(0);
  const { real, forked } = both(['s3', 'cp', 's3://b/from-stdin', '-']);
  expect(shape(forked)).toEqual(shape(real));
  expect(real.stdout).toBe('hello\n');
});

test('an error: the same message and exit code', () => {
  const { real, forked } = both(['s3', 'cp', 's3://b/no-such-key', '-']);
  expect(real.status).not.toBe(0);
  expect(shape(forked)).toEqual(shape(real));
  const usage = both(['s3', 'cp']);
  expect(usage.real.status).toBe(252);
  expect(shape(usage.forked)).toEqual(shape(usage.real));
});

test('relative paths are read in the caller’s working folder, the environment is the caller’s', () => {
  const cwd = fs.mkdtempSync(path.join(dir, 'cwd-'));
  fs.writeFileSync(path.join(cwd, 'local.txt'), 'from a relative path');
  expect(aws('forked', ['s3', 'cp', 'local.txt', 's3://b/relative'], { cwd }).status).toBe(0);
  expect(aws('real', ['s3', 'cp', 's3://b/relative', '-']).stdout).toBe('from a relative path');
  // No credentials in the caller's environment: both refuse alike (the server's own environment is not used).
  const [file, argv] = command('forked', ['--endpoint-url', s3.endpoint, 's3', 'ls']);
  const noKeys = { ...envOf('forked'), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
  const forked = spawnSync(file, argv, { env: noKeys, encoding: 'utf8' });
  const real = spawnSync('/usr/bin/aws', argv.slice(2), {
    env: { ...noKeys, SHIM_AWS_SERVER: '' },
    encoding: 'utf8',
  });
  expect(shape(forked)).toEqual(shape(real));
});

test('SIGTERM ends the aws process as it ends /usr/bin/aws', async () => {
  // `aws s3 cp - …` waits for stdin to end; it never does here, until the signal.
  const ends = await Promise.all(
    (['real', 'forked'] as const).map((way) => {
      const [file, argv] = command(way, ['--endpoint-url', s3.endpoint, 's3', 'cp', '-', 's3://b/never']);
      const child = spawn(file, argv, { env: envOf(way), stdio: ['pipe', 'ignore', 'ignore'] });
      setTimeout(() => child.kill('SIGTERM'), way === 'real' ? 4000 : 1500);
      return new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
    }),
  );
  expect(ends[0]).toEqual({ code: null, signal: 'SIGTERM' });
  expect(ends[1]).toEqual(ends[0]);
});
