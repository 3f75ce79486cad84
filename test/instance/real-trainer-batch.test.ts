import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { at, must } from '../../lib/defined';
import { runKeys, runStateKey, sweepKey } from '../../lib/layout';
import { parseGridArg, planSweep } from '../../lib/sweep/grid';
import { sweepRunRequest } from '../../lib/sweep/record';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { cpuEnvVars } from '../training/trainer';
import { BUCKETS, cacheSampleDataset, FakeInstance, INSTANCE_SCRIPTS } from './support/instance';

// The REAL bnn_train (Theano 1.0.5 on CPU, the pinned vendor sources of scripts/dev/cpu-env.sh) through the Batch
// entrypoint: the image as `bootstrap.sh image` lays it out (shims for apt/micromamba), the env's python pointed at
// the CPU vendor environment, `bootstrap.sh container` as the device check, run-training.sh in Batch mode.
// One run goes straight through; an identical run (same parameters, other sweep) is stopped with SIGTERM after two
// epochs (exit 143, state stopped, as a Spot drain does), its disk is thrown away, and Batch's second attempt resumes
// from the S3 checkpoint: both model.npz must be byte-identical. CPU-heavy: a few minutes.

const ENTRYPOINT = path.join(INSTANCE_SCRIPTS, 'batch', 'entrypoint.sh');
jest.setTimeout(1_500_000);

let s3: LocalS3;
let i: FakeInstance;
const SWEEP_A = '20261201-150000-sweep-aaaa';
const SWEEP_B = '20261201-150000-sweep-bbbb';
const EPOCHS = '5';
const plan = (sweepId: string) =>
  at(
    planSweep(sweepId, [parseGridArg('seed=3')], { epochs: EPOCHS, batchSize: '10' }),
    0,
    'the planned runs',
  );
const A = plan(SWEEP_A);
const B = plan(SWEEP_B);

const body = async (key: string) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }));
  if (!r.Body) throw new Error(`no body for ${key}`);
  return Buffer.from(await r.Body.transformToByteArray());
};
const put = (key: string, value: unknown) =>
  s3.client.send(new PutObjectCommand({ Bucket: BUCKETS.artifacts, Key: key, Body: JSON.stringify(value) }));
const freshDisk = () => {
  for (const d of ['runs', 'datasets', 'sweep.json'])
    fs.rmSync(path.join(i.root, d), { recursive: true, force: true });
};
const jobEnv = (sweepId: string, attempt: number) => ({
  BNN_SWEEP_ID: sweepId,
  AWS_BATCH_JOB_ATTEMPT: String(attempt),
  AWS_BATCH_JOB_ID: `job-${sweepId.slice(-4)}`,
  BNN_DEVICE_HINT: 'cpu',
  BNN_MAX_ATTEMPTS: '10',
});

beforeAll(async () => {
  const cpuEnv = cpuEnvVars();
  s3 = await startLocalS3(Object.values(BUCKETS));
  await cacheSampleDataset(s3);
  i = new FakeInstance(s3);
  expect(i.run(path.join(INSTANCE_SCRIPTS, 'bootstrap.sh'), ['image']).status).toBe(0);
  // The image's env python: here Debian's python3 with the pinned vendor sources (and their compile cache).
  const python = path.join(i.root, 'env', 'bin', 'python');
  fs.writeFileSync(
    python,
    `#!/bin/bash\nexport PYTHONPATH='${cpuEnv.PYTHONPATH}'\nexport THEANO_FLAGS='${cpuEnv.THEANO_FLAGS}'\nexec /usr/bin/python3 "$@"\n`,
  );
  fs.chmodSync(python, 0o755);
  for (const [sweepId, run] of [
    [SWEEP_A, A],
    [SWEEP_B, B],
  ] as const) {
    await put(runKeys(run.runId).request, sweepRunRequest(run, sweepId, '2026-12-01T15:00:00Z'));
    await put(sweepKey(sweepId), { sweepId, runs: [{ index: 0, runId: run.runId }] });
  }
});
afterAll(async () => {
  i?.cleanup();
  await s3?.stop();
});

it('stop → exit 143 → fresh disk → Batch retry → the same model.npz, byte for byte, as an uninterrupted run', async () => {
  freshDisk();
  const straight = i.run(ENTRYPOINT, [], jobEnv(SWEEP_A, 1));
  expect({
    status: straight.status,
    tail: straight.status === 0 ? '' : straight.stdout.slice(-3000) + straight.stderr.slice(-2000),
  }).toEqual({ status: 0, tail: '' });
  expect(JSON.parse((await body(runStateKey(A.runId))).toString()).state).toBe('succeeded');
  const modelA = await body(runKeys(A.runId).model);

  freshDisk();
  const { child, done } = i.start(ENTRYPOINT, [], jobEnv(SWEEP_B, 1));
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  const progress = path.join(i.root, 'runs', B.runId, 'progress.jsonl');
  const lines = () =>
    fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim().split('\n').length : 0;
  const deadline = Date.now() + 900_000;
  while (lines() < 2 && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  child.kill('SIGTERM');
  const stopped = await done;
  expect({ status: stopped.status, tail: stopped.status === 143 ? '' : stopped.output.slice(-3000) }).toEqual(
    { status: 143, tail: '' },
  );
  const state = JSON.parse((await body(runStateKey(B.runId))).toString());
  expect(state).toEqual(expect.objectContaining({ state: 'stopped', attempt: 1 }));
  const before = (await body(runKeys(B.runId).progress)).toString().trim().split('\n');
  const lastEpoch = JSON.parse(must(before[before.length - 1], 'before[before.length - 1]')).epoch as number;
  expect(lastEpoch).toBeLessThan(Number(EPOCHS));

  freshDisk(); // Batch's next attempt: a new container, nothing local
  const retried = i.run(ENTRYPOINT, [], jobEnv(SWEEP_B, 2));
  expect({ status: retried.status, tail: retried.status === 0 ? '' : retried.stdout.slice(-3000) }).toEqual({
    status: 0,
    tail: '',
  });
  expect(retried.stdout).toContain('resuming: pulled the checkpoint');
  expect(JSON.parse((await body(runStateKey(B.runId))).toString())).toEqual(
    expect.objectContaining({ state: 'succeeded', attempt: 2 }),
  );
  const all = (await body(runKeys(B.runId).progress)).toString().trim().split('\n');
  expect(all.map((l) => JSON.parse(l).epoch)).toEqual(
    Array.from({ length: Number(EPOCHS) }, (_, n) => n + 1),
  );
  const modelB = await body(runKeys(B.runId).model);
  expect(modelB.length).toBeGreaterThan(1000);
  expect(modelB.equals(modelA)).toBe(true);
  // Nothing of the instance's machinery ran: no systemd, no shutdown.
  expect(i.calls('systemctl')).toEqual([]);
  expect(i.calls('shutdown')).toEqual([]);
});
