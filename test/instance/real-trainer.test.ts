import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TrainDocument } from '../../lib/constructs/train-document';
import { must } from '../../lib/defined';
import { runKeys, runStateKey } from '../../lib/layout';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { cpuEnvVars } from '../training/trainer';
import { BUCKETS, cacheSampleDataset, FakeInstance, INSTANCE_SCRIPTS } from './support/instance';

// The wrapper with the REAL trainer: run-training.sh runs the project's `python3 -m bnn_train` (Theano 1.0.5,
// Lasagne, BNN-PYNQ's LFC from the pinned vendor archives, built by scripts/dev/cpu-env.sh) on the 50-image
// Fashion-MNIST sample, on CPU. Proves the contract between the two sides: arguments, --on-epoch, checkpoint
// layout and resume, SIGTERM → 143, model.npz layout.

const RUN_TRAINING = path.join(INSTANCE_SCRIPTS, 'run-training.sh');
jest.setTimeout(1_200_000);

let s3: LocalS3;
let cpuEnv: { PYTHONPATH: string; THEANO_FLAGS: string };
const instances: FakeInstance[] = [];

beforeAll(async () => {
  cpuEnv = cpuEnvVars();
  s3 = await startLocalS3(Object.values(BUCKETS));
  await cacheSampleDataset(s3);
});
afterAll(async () => {
  for (const i of instances) i.cleanup();
  await s3?.stop();
});

const body = async (bucket: string, key: string) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!r.Body) throw new Error(`no body for ${key}`);
  return Buffer.from(await r.Body.transformToByteArray());
};

/** A bootstrapped instance whose "env python" is Debian's python3 with the pinned vendor sources. */
function instanceWithRealTrainer(): FakeInstance {
  const i = new FakeInstance(s3);
  instances.push(i);
  const state = path.join(i.root, 'state');
  fs.mkdirSync(state, { recursive: true });
  fs.writeFileSync(path.join(state, 'bootstrap-state'), 'ready: cpu\n');
  fs.writeFileSync(
    path.join(state, 'runtime.env'),
    [
      'BNN_DEVICE=cpu',
      "BNN_DEVICE_STATE='ready: cpu'",
      `THEANO_FLAGS=${cpuEnv.THEANO_FLAGS}`,
      `PYTHONPATH=${cpuEnv.PYTHONPATH}`,
      'BNN_PYTHON=/usr/bin/python3',
      'OMP_NUM_THREADS=1',
      '',
    ].join('\n'),
  );
  return i;
}

function startRun(i: FakeInstance, values: Record<string, string>) {
  const stack = new Stack(new App(), 'T');
  new TrainDocument(stack, 'Train');
  const [doc] = Object.values(Template.fromStack(stack).findResources('AWS::SSM::Document'));
  const content = must(doc, 'the SSM document').Properties.Content;
  const script = (content.mainSteps[0].inputs.runCommand as string[])
    .join('\n')
    .replace(
      /\{\{ *([A-Za-z]+) *\}\}/g,
      (_, name: string) => values[name] ?? content.parameters[name].default,
    );
  const file = path.join(i.dir, 'ssm-train.sh');
  fs.writeFileSync(file, script);
  const r = i.run(file, [], {}, 'sh');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

/** The npz member names (a zip), read with Debian's numpy. */
function npzMembers(bytes: Buffer, dir: string): string[] {
  const file = path.join(dir, 'model-check.npz');
  fs.writeFileSync(file, bytes);
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import numpy,sys; print(" ".join(numpy.load(sys.argv[1]).files))', file],
    {
      encoding: 'utf8',
    },
  );
  expect(r.status).toBe(0);
  return r.stdout.trim().split(' ');
}

it('a run with the real bnn_train: progress + checkpoint every epoch, model.npz in the converter layout, succeeded', async () => {
  const i = instanceWithRealTrainer();
  startRun(i, { runId: 'real-run-1', epochs: '2', batchSize: '10', keepRunning: 'true' });
  const r = i.run(RUN_TRAINING, ['real-run-1']);
  const log = fs.readFileSync(path.join(i.root, 'runs', 'real-run-1', 'train.log'), 'utf8');
  expect({ status: r.status, log: r.status === 0 ? '' : log }).toEqual({ status: 0, log: '' });
  const keys = runKeys('real-run-1');
  const progress = (await body(BUCKETS.artifacts, keys.progress)).toString().trim().split('\n');
  expect(progress.map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  expect(JSON.parse((await body(BUCKETS.artifacts, runStateKey('real-run-1'))).toString()).state).toBe(
    'succeeded',
  );
  const members = npzMembers(await body(BUCKETS.artifacts, keys.model), i.dir);
  expect(members.sort()).toEqual(Array.from({ length: 24 }, (_, n) => `arr_${n}`).sort());
  expect(JSON.parse((await body(BUCKETS.artifacts, keys.result)).toString())).toBeTruthy();
});

it('SIGTERM mid-run with the real trainer → 143 and stopped; on a fresh disk it resumes from the S3 checkpoint', async () => {
  const i = instanceWithRealTrainer();
  startRun(i, { runId: 'real-run-2', epochs: '12', batchSize: '10', keepRunning: 'true' });
  const { child, done } = i.start(RUN_TRAINING, ['real-run-2']);
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  const progress = path.join(i.root, 'runs', 'real-run-2', 'progress.jsonl');
  const deadline = Date.now() + 600_000;
  const lines = () =>
    fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim().split('\n').length : 0;
  while (lines() < 2 && !exited && Date.now() < deadline) await new Promise((res) => setTimeout(res, 250));
  child.kill('SIGTERM');
  const { status, output } = await done;
  expect({ status, tail: status === 143 ? '' : output.slice(-2000) }).toEqual({ status: 143, tail: '' });
  const state = JSON.parse((await body(BUCKETS.artifacts, runStateKey('real-run-2'))).toString());
  expect(state.state).toBe('stopped');
  const done1 = (await body(BUCKETS.artifacts, runKeys('real-run-2').progress)).toString().trim().split('\n');
  const lastEpoch = JSON.parse(must(done1.at(-1), 'the last progress line')).epoch as number;
  expect(lastEpoch).toBeGreaterThanOrEqual(2);
  expect(lastEpoch).toBeLessThan(12);

  // The disk is gone; the run comes back from S3 and continues after the last pushed epoch.
  fs.rmSync(path.join(i.root, 'runs', 'real-run-2'), { recursive: true });
  const again = i.run(RUN_TRAINING, ['real-run-2']);
  expect(again.status).toBe(0);
  const all = (await body(BUCKETS.artifacts, runKeys('real-run-2').progress)).toString().trim().split('\n');
  expect(all.map((l) => JSON.parse(l).epoch)).toEqual(Array.from({ length: 12 }, (_, n) => n + 1));
  expect(JSON.parse((await body(BUCKETS.artifacts, runStateKey('real-run-2'))).toString()).state).toBe(
    'succeeded',
  );
});
