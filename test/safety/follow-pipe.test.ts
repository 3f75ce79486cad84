import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DISCOVERED } from '../cloud/support';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { runBinary } from './harness';

/**
 * Commands that follow a run (`watch`, `train --follow`, `logs -f`) end quietly as soon as the reader of
 * their output goes away (`| head`), with exit 0, instead of polling AWS until the run ends. Real pipes
 * into the real `head`; the CLI's real entry point (support/follow-into-pipe.ts) with a run that never
 * ends, so a follower that kept going would be killed by `timeout` (exit 124) and fail the test.
 */
jest.setTimeout(180_000);

const SCRIPT = path.join(__dirname, 'support', 'follow-into-pipe.ts');
const RUN = '20261126-070000-fashion-mnist-f00d';
let s3: LocalS3;
let dir: string;

beforeAll(async () => {
  s3 = await startLocalS3([DISCOVERED['artifact-bucket']]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'bnn-follow-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await s3.stop();
});

async function follow(args: string, pipe: string, report: string) {
  const cli = `timeout 60 ${process.execPath} --require ${require.resolve('tsx/cjs')} ${SCRIPT} ${args}`;
  const r = await runBinary([], {
    cwd: dir,
    env: { ...s3.env, FOLLOW_REPORT: path.join(dir, report) },
    shell: `${cli} ${pipe}; echo "rc=\${PIPESTATUS[0]}"`,
  });
  return { ...r, report: readFileSync(path.join(dir, report), 'utf8') };
}

test('`watch <run> 2>&1 | head -2`: two epoch lines, then the watcher ends quietly with exit 0', async () => {
  const r = await follow(`watch ${RUN} --region us-east-1`, '2>&1 | head -2', 'watch.txt');
  const lines = r.stdout.trim().split('\n');
  expect(lines.slice(0, 2).map((l) => l.split(',')[0])).toEqual(['epoch 1/1000', 'epoch 2/1000']);
  expect(lines[2]).toBe('rc=0');
  expect(r.stderr).toBe('');
  // It stopped at the first line it could not write, not at the end of the (endless) run.
  expect(r.report).toMatch(/^polls=[2-5] exit=0\n$/);
});

test('`train --follow 2>&1 | head -4`: the run is started, then following ends quietly with exit 0', async () => {
  const r = await follow(
    'train --follow --dataset fashion-mnist --region us-east-1',
    '2>&1 | head -4',
    'train.txt',
  );
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(5);
  expect(lines.join('\n')).toMatch(/\d{8}-\d{6}-fashion-mnist-[0-9a-f]{4}\n/);
  expect(lines[4]).toBe('rc=0');
  expect(r.stderr).toBe('');
  expect(r.report).toMatch(/^polls=\d exit=0\n$/);
});

test('`logs <run> -f | head -3`: three log lines, then exit 0, nothing on stderr', async () => {
  const r = await follow(`logs ${RUN} -f --region us-east-1`, '| head -3', 'logs.txt');
  expect(r.stdout).toBe('epoch 1 done\nepoch 2 done\nepoch 3 done\nrc=0\n');
  expect(r.stderr).toBe('');
  expect(r.report).toMatch(/^polls=[3-6] exit=0\n$/);
});
