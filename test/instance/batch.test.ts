import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { at } from '../../lib/defined';
import { runKeys, runStateKey, SWEEP_ID_PATTERN, sweepKey } from '../../lib/layout';
import { parseGridArg, planSweep } from '../../lib/sweep/grid';
import { sweepRunRequest } from '../../lib/sweep/record';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { BUCKETS, cacheSampleDataset, FakeInstance, INSTANCE_SCRIPTS } from './support/instance';

// The sweep image and job for real under bash: bootstrap.sh `image` (as the Dockerfile runs it) and `container`
// (the device check at job start), then batch/entrypoint.sh → run-training.sh in Batch mode, with the shims of
// test/instance/shims (stand-in trainer, recording systemctl/shutdown/ssm/ec2) and the real aws CLI against
// loopback S3. Each "attempt" gets a fresh disk: the runs and datasets folders are removed, the image stays.

jest.setTimeout(900_000);
const BOOTSTRAP = path.join(INSTANCE_SCRIPTS, 'bootstrap.sh');
const ENTRYPOINT = path.join(INSTANCE_SCRIPTS, 'batch', 'entrypoint.sh');
const SWEEP = '20261201-130000-sweep-b0b0';

let s3: LocalS3;
let i: FakeInstance;
let imageBuild: ReturnType<FakeInstance['run']>;
let containerCheck: ReturnType<FakeInstance['run']>;
let imageCalls: string[];
let containerCalls: string[];
let afterImage: { runtimeEnv: boolean; state: string; units: string[] };
const runs = planSweep(SWEEP, [parseGridArg('seed=1..8')], { epochs: '2' });
const runId = (index: number) => at(runs, index, 'the planned runs').runId;

const text = async (key: string) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }));
  if (!r.Body) throw new Error(`no body for ${key}`);
  return r.Body.transformToString();
};
const state = async (index: number) => JSON.parse(await text(runStateKey(runId(index))));
const put = (key: string, body: string) =>
  s3.client.send(new PutObjectCommand({ Bucket: BUCKETS.artifacts, Key: key, Body: body }));

/** A new container of the same image: the run and dataset folders are gone. */
function freshDisk(): void {
  for (const d of ['runs', 'datasets', 'sweep.json'])
    fs.rmSync(path.join(i.root, d), { recursive: true, force: true });
}
/** One Batch attempt of array index `index`. */
function attempt(index: number | undefined, attemptNo: number, env: Record<string, string> = {}) {
  freshDisk();
  i.clearCalls();
  return i.run(ENTRYPOINT, [], {
    BNN_SWEEP_ID: SWEEP,
    AWS_BATCH_JOB_ID: `job-1234${index === undefined ? '' : `:${index}`}`,
    ...(index === undefined ? {} : { AWS_BATCH_JOB_ARRAY_INDEX: String(index) }),
    AWS_BATCH_JOB_ATTEMPT: String(attemptNo),
    BNN_DEVICE_HINT: 'cpu',
    BNN_MAX_ATTEMPTS: '10',
    ...env,
  });
}

beforeAll(async () => {
  s3 = await startLocalS3(Object.values(BUCKETS));
  await cacheSampleDataset(s3);
  i = new FakeInstance(s3);
  imageBuild = i.run(BOOTSTRAP, ['image']);
  imageCalls = i.calls();
  afterImage = {
    runtimeEnv: fs.existsSync(path.join(i.root, 'state', 'runtime.env')),
    state: fs.readFileSync(path.join(i.root, 'state', 'bootstrap-state'), 'utf8'),
    units: fs.readdirSync(i.env.BNN_SYSTEMD_DIR),
  };
  i.clearCalls();
  containerCheck = i.run(BOOTSTRAP, ['container']);
  containerCalls = i.calls();
  // What `bnn-pynq sweep` writes before it submits: every run.json, then sweep.json.
  const at = '2026-12-01T13:00:00Z';
  for (const r of runs) await put(runKeys(r.runId).request, JSON.stringify(sweepRunRequest(r, SWEEP, at)));
  await put(
    sweepKey(SWEEP),
    JSON.stringify({ sweepId: SWEEP, runs: runs.map(({ index, runId }) => ({ index, runId })) }),
  );
});
afterAll(async () => {
  i?.cleanup();
  await s3?.stop();
});

describe('bootstrap.sh image / container', () => {
  it('image: installs with the same steps and pins, never touches systemd, the CloudWatch agent, SSM or tags', () => {
    expect(imageBuild.status).toBe(0);
    expect(
      imageCalls.filter((c) =>
        /^(systemctl|dpkg|amazon-cloudwatch-agent-ctl|aws (--region \S+ )?(ssm|ec2))\b/.test(c),
      ),
    ).toEqual([]);
    expect(imageCalls.find((c) => c.startsWith('apt-get') && c.includes('install'))).toContain('awscli');
    // The GPU packages are in the image although the build host has no GPU: the driver comes at job start.
    expect(imageCalls.find((c) => c.startsWith('micromamba') && c.includes('create'))).toContain(
      'cudatoolkit=11.8',
    );
    expect(afterImage).toEqual({
      runtimeEnv: false,
      state: expect.stringMatching(/^image: installed/),
      units: [],
    });
  });

  it('container: every install step is already done; the device check writes runtime.env; no SSM, tags, systemd', () => {
    expect(containerCheck.status).toBe(0);
    expect(containerCheck.stdout).toMatch(/step python-env: already done/);
    expect(containerCalls.filter((c) => /^(systemctl|apt-get|micromamba|dpkg|aws)\b/.test(c))).toEqual([]);
    const runtime = fs.readFileSync(path.join(i.root, 'state', 'runtime.env'), 'utf8');
    expect(runtime).toContain('BNN_DEVICE=cpu');
  });

  it('an unknown target is refused with exit 2', () => {
    const r = i.run(BOOTSTRAP, ['laptop']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: bootstrap.sh [instance|image|container]');
  });
});

describe('batch/entrypoint.sh + run-training.sh in Batch mode', () => {
  it('index → run id through sweep.json; trains, publishes, exits 0; no systemctl, no shutdown', async () => {
    const r = attempt(1, 1);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`sweep ${SWEEP} index 1: run ${runId(1)} (attempt 1)`);
    const st = await state(1);
    expect(st).toEqual(
      expect.objectContaining({ state: 'succeeded', attempt: 1, batchJobId: 'job-1234:1', instanceId: '' }),
    );
    expect(await text(runKeys(runId(1)).model)).toBe('NPZ-best-model');
    expect(i.calls('systemctl')).toEqual([]);
    expect(i.calls('shutdown')).toEqual([]);
    expect(i.calls().filter((c) => c.startsWith('curl') && c.includes('169.254.169.254'))).toEqual([]);
    // The trainer got this run's seed (index 1 of seed=1..8).
    expect(i.calls('python').find((c) => c.includes('-m bnn_train'))).toMatch(/--seed 2 /);
  });

  it('a crash exits 1 (retried); the next attempt on a fresh disk resumes from the S3 checkpoint and succeeds', async () => {
    const crashed = attempt(2, 1, { SHIM_TRAIN_CRASH_AT: '1' });
    expect(crashed.status).toBe(1);
    const st = await state(2);
    expect(st.state).toBe('running');
    expect(st.message).toContain(
      'bnn_train exited 1 (attempt 1 of 10); Batch restarts it from the last checkpoint',
    );
    const resumed = attempt(2, 2);
    expect(resumed.status).toBe(0);
    expect(fs.readFileSync(path.join(i.root, 'runs', runId(2), '.shim-starts'), 'utf8')).toMatch(/^start=2 /);
    expect(await state(2)).toEqual(expect.objectContaining({ state: 'succeeded', attempt: 2 }));
    const progress = (await text(runKeys(runId(2)).progress)).trim().split('\n');
    expect(progress.map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  });

  it('a crash on the last attempt fails the run for good: exit 2, which the retry rules never retry', async () => {
    const r = attempt(3, 10, { SHIM_TRAIN_CRASH_AT: '1' });
    expect(r.status).toBe(2);
    expect((await state(3)).message).toContain('bnn_train exited 1 on attempt 10 of 10');
  });

  it('bad input: exit 2 and state failed with the trainer’s message', async () => {
    const r = attempt(4, 1, { SHIM_TRAIN_BAD_INPUT: '1' });
    expect(r.status).toBe(2);
    const st = await state(4);
    expect(st.state).toBe('failed');
    expect(st.message).toContain('label 70 is out of range');
  });

  it('SIGTERM (Spot drain, terminate): checkpoint pushed, state stopped, exit 143; retried on a fresh disk, it resumes', async () => {
    freshDisk();
    const { child, done } = i.start(ENTRYPOINT, [], {
      BNN_SWEEP_ID: SWEEP,
      AWS_BATCH_JOB_ARRAY_INDEX: '5',
      AWS_BATCH_JOB_ATTEMPT: '1',
      BNN_DEVICE_HINT: 'cpu',
      SHIM_EPOCH_SECONDS: '3',
    });
    const progress = path.join(i.root, 'runs', runId(5), 'progress.jsonl');
    const deadline = Date.now() + 120_000;
    while (!fs.existsSync(progress) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1500)); // inside epoch 2
    child.kill('SIGTERM');
    const { status, output } = await done;
    expect(status).toBe(143);
    expect(output).toContain('SIGTERM: keeping checkpoint of epoch 1');
    const st = await state(5);
    expect(st.state).toBe('stopped');
    expect(st.message).toContain('Batch retries it from the last checkpoint');
    expect(await text(`${runKeys(runId(5)).checkpointPrefix}latest.json`)).toBe('{"epoch": 1}\n');

    const again = attempt(5, 2);
    expect(again.status).toBe(0);
    expect(fs.readFileSync(path.join(i.root, 'runs', runId(5), '.shim-starts'), 'utf8')).toMatch(/^start=2 /);
    expect((await state(5)).state).toBe('succeeded');
  });

  it('an attempt after the run already ended exits with its outcome and trains nothing', async () => {
    expect(attempt(1, 3).status).toBe(0); // succeeded above
    expect(i.calls('python').filter((c) => c.includes('bnn_train'))).toEqual([]);
    expect(attempt(4, 2).status).toBe(2); // failed above
    expect(i.calls('python').filter((c) => c.includes('bnn_train'))).toEqual([]);
  });

  it('a GPU job on a host without a working GPU exits 1 (another host), and fails on the last attempt', async () => {
    const r = attempt(6, 1, { BNN_DEVICE_HINT: 'gpu' });
    expect(r.status).toBe(1);
    expect((await state(6)).message).toMatch(/no usable GPU on this host .*Batch retries/);
    expect(i.calls('python').filter((c) => c.includes('bnn_train'))).toEqual([]);
    expect(attempt(6, 10, { BNN_DEVICE_HINT: 'gpu' }).status).toBe(2);
    expect((await state(6)).state).toBe('failed');
  });

  it('a one-run sweep (no array index) is index 0; a bad sweep id or an index past the end exits 2', () => {
    const noSweep = i.run(ENTRYPOINT, [], { BNN_SWEEP_ID: 'nope' });
    expect(noSweep.status).toBe(2);
    expect(noSweep.stderr).toContain("BNN_SWEEP_ID 'nope' is not a sweep id");
    const past = attempt(99, 1);
    expect(past.status).toBe(2);
    expect(past.stderr).toContain(`sweep ${SWEEP} has no run at index 99`);
    expect(SWEEP).toMatch(SWEEP_ID_PATTERN);
  });
});
