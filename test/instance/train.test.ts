import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TRAIN_PARAMETER_SPECS, TrainDocument } from '../../lib/constructs/train-document';
import { at, must } from '../../lib/defined';
import {
  CHECKPOINT_TAG,
  logStreams,
  RUN_STATES,
  runKeys,
  runStateKey,
  TRAIN_DOCUMENT_PARAMETERS,
} from '../../lib/layout';
import { TRAINING_PARAMETERS } from '../../lib/training/parameters';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { BUCKETS, cacheSampleDataset, FakeInstance, INSTANCE_ID, INSTANCE_SCRIPTS } from './support/instance';

// The `train` document's script, read out of the synthesized template, run under sh as the SSM agent does;
// then the systemd service body (run-training.sh) as systemd would run it, with a stand-in trainer that keeps
// the bnn_train contract. Real aws CLI against loopback S3.

const RUN_TRAINING = path.join(INSTANCE_SCRIPTS, 'run-training.sh');
jest.setTimeout(900_000);

interface DocumentContent {
  schemaVersion: string;
  parameters: Record<string, { type: string; default: string; allowedPattern: string }>;
  mainSteps: { action: string; inputs: { runCommand: string[] } }[];
}

function synthesizedDocument() {
  const stack = new Stack(new App(), 'T');
  new TrainDocument(stack, 'Train');
  const docs = Template.fromStack(stack).findResources('AWS::SSM::Document');
  const [doc] = Object.values(docs);
  return must(doc, 'the SSM document').Properties as { DocumentType: string; Content: DocumentContent };
}
const content = synthesizedDocument().Content;
const step = at(content.mainSteps, 0, 'the document steps');
const parameter = (name: string) => must(content.parameters[name], `document parameter ${name}`);

/** The runCommand with `{{ name }}` replaced the way SSM does (document defaults for what is not given). */
function renderScript(values: Record<string, string>): string {
  const lines: string[] = step.inputs.runCommand;
  return lines
    .join('\n')
    .replace(/\{\{ *([A-Za-z]+) *\}\}/g, (_, name: string) => values[name] ?? parameter(name).default);
}

describe('the synthesized train document', () => {
  it('is a schemaVersion 2.2 Command document with a typed, validated parameter for every name in layout', () => {
    expect(synthesizedDocument().DocumentType).toBe('Command');
    expect(content.schemaVersion).toBe('2.2');
    expect(Object.keys(content.parameters)).toEqual([...TRAIN_DOCUMENT_PARAMETERS]);
    for (const name of TRAIN_DOCUMENT_PARAMETERS) {
      const p = parameter(name);
      expect(p.type).toBe('String');
      expect(p.allowedPattern).toMatch(/^\^.*\$$/);
      expect(new RegExp(p.allowedPattern).test(p.default)).toBe(true);
    }
    expect(step.action).toBe('aws:runShellScript');
    expect(step.inputs.runCommand.join('\n')).toContain(
      fs
        .readFileSync(path.join(INSTANCE_SCRIPTS, 'ssm', 'train.sh'), 'utf8')
        .split('\n')
        .slice(5, 40)
        .join('\n'),
    );
  });

  // A value SSM would refuse is refused by the script too (it may be run by hand), with the parameter named.
  const refused: [string, string][] = [
    ['runId', 'Has_Upper'],
    ['runId', 'x'],
    ['dataset', 'Fashion MNIST'],
    ['dataset', "x';reboot;'"],
    ['epochs', '0'],
    ['epochs', '1e3'],
    ['batchSize', '-5'],
    ['learningRateStart', 'fast'],
    ['learningRateEnd', '3e-7;id'],
    ['seed', '-1'],
    ['weightBits', '3'],
    ['network', 'cnvW3A3'],
    ['graph', 'exact'],
    ['activationBits', '0'],
    ['limitTrain', '010'],
    ['select', 'max'],
    ['keepRunning', 'yes'],
  ];
  it.each(refused)('%s=%s is refused by allowedPattern and by the script', (name, value) => {
    expect(
      new RegExp(must(TRAIN_PARAMETER_SPECS[name], `the spec of ${name}`).allowedPattern).test(value),
    ).toBe(false);
    const script = fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'ssm', 'train.sh'), 'utf8');
    // Bypass SSM: the script gets the raw value through its P_<name> variable.
    const i = instances.tmp();
    const file = path.join(i.dir, 'train-direct.sh');
    fs.writeFileSync(file, script);
    const r = i.run(file, [], { [`P_${name}`]: value }, 'sh');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: parameter ${name}='${value}' is not valid`);
  });
});

// ------------------------------------------------------------------------------------------------------------
let s3: LocalS3;
const instances = {
  list: [] as FakeInstance[],
  tmp(): FakeInstance {
    const i = new FakeInstance(s3);
    this.list.push(i);
    return i;
  },
};
beforeAll(async () => {
  s3 = await startLocalS3(Object.values(BUCKETS));
  // fashion-mnist already cached in the DatasetBucket (the 50-image sample, with its dataset.json).
  await cacheSampleDataset(s3);
});
afterAll(async () => {
  for (const i of instances.list) i.cleanup();
  await s3.stop();
});

const text = async (key: string) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }));
  if (!r.Body) throw new Error(`no body for ${key}`);
  return r.Body.transformToString();
};
const state = async (runId: string) => JSON.parse(await text(runStateKey(runId)));

/** A bootstrapped instance (state ready: cpu, runtime.env pointing at the stand-in trainer). */
function readyInstance(): FakeInstance {
  const i = instances.tmp();
  const stateDir = path.join(i.root, 'state');
  fs.mkdirSync(path.join(i.root, 'env', 'bin'), { recursive: true });
  fs.copyFileSync(path.join(i.shimBin, 'fake-python'), path.join(i.root, 'env', 'bin', 'python'));
  fs.chmodSync(path.join(i.root, 'env', 'bin', 'python'), 0o755);
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(path.join(stateDir, 'bootstrap-state'), 'ready: cpu\n');
  // The CloudWatch agent as the bootstrap left it.
  fs.mkdirSync(path.join(i.env.BNN_CWAGENT_DIR, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(i.env.BNN_CWAGENT_DIR, 'etc'), { recursive: true });
  fs.copyFileSync(
    path.join(i.shimBin, 'amazon-cloudwatch-agent-ctl'),
    path.join(i.env.BNN_CWAGENT_DIR, 'bin', 'amazon-cloudwatch-agent-ctl'),
  );
  fs.writeFileSync(
    path.join(stateDir, 'runtime.env'),
    [
      'BNN_DEVICE=cpu',
      "BNN_DEVICE_STATE='ready: cpu'",
      'THEANO_FLAGS=floatX=float32,device=cpu',
      `PYTHONPATH=${INSTANCE_SCRIPTS}`,
      `BNN_PYTHON=${i.root}/env/bin/python`,
      'OMP_NUM_THREADS=1',
      '',
    ].join('\n'),
  );
  return i;
}

function startRun(i: FakeInstance, values: Record<string, string>) {
  const file = path.join(i.dir, `ssm-${Date.now()}.sh`);
  fs.writeFileSync(file, renderScript(values));
  return i.run(file, [], {}, 'sh'); // the agent runs runShellScript with sh
}

describe('starting a run with the document', () => {
  it('writes run.json and state.json, enables and starts the unit, prints the run id, returns promptly', async () => {
    const i = readyInstance();
    const r = startRun(i, { runId: 'run-start-1', epochs: '2', keepRunning: 'false' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe('run-start-1');
    // Returns without training: the trainer is not run, the unit is started without waiting for it.
    expect(i.calls('python')).toEqual([]);
    const request = JSON.parse(await text(runKeys('run-start-1').request));
    expect(request).toMatchObject({
      runId: 'run-start-1',
      dataset: 'fashion-mnist',
      network: 'lfcW1A1',
      graph: null, // empty: the network's own (bnn_train decides)
      epochs: 2,
      batchSize: null,
      learningRateStart: null,
      learningRateEnd: null,
      seed: 0,
      weightBits: null,
      activationBits: null,
      limitTrain: 0,
      select: 'board',
      keepRunning: false,
      instanceId: INSTANCE_ID,
    });
    expect((await state('run-start-1')).state).toBe('starting');
    expect(i.calls('systemctl').filter((l) => !l.startsWith('systemctl list-units'))).toEqual([
      'systemctl enable bnn-pynq-train@run-start-1.service',
      'systemctl start --no-block bnn-pynq-train@run-start-1.service',
    ]);
  });

  it('run.json holds every parameter of the training-parameter table, typed as the table says', async () => {
    const i = readyInstance();
    const values: Record<string, string> = { runId: 'run-table-1' };
    for (const p of TRAINING_PARAMETERS) if (p.name !== 'runId') values[p.name] = p.default;
    const r = startRun(i, values);
    expect(r.status).toBe(0);
    const request = JSON.parse(await text(runKeys('run-table-1').request));
    for (const p of TRAINING_PARAMETERS) {
      const typed =
        values[p.name] === ''
          ? null // the network's own value, chosen by bnn_train
          : p.type === 'integer' || p.type === 'number'
            ? Number(values[p.name])
            : p.type === 'boolean'
              ? values[p.name] === 'true'
              : values[p.name];
      expect([p.name, request[p.name]]).toEqual([p.name, typed]);
    }
  });

  it('a CNV run on CIFAR-10: run.json names the network; bits that do not fit it are refused', async () => {
    const i = readyInstance();
    const r = startRun(i, { runId: 'run-cnv-1', dataset: 'cifar10', network: 'cnvW1A1' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('dataset cifar10, default epochs, cnvW1A1');
    const request = JSON.parse(await text(runKeys('run-cnv-1').request));
    expect(request).toMatchObject({ dataset: 'cifar10', network: 'cnvW1A1', epochs: null, batchSize: null });
    const bad = startRun(i, {
      runId: 'run-cnv-2',
      dataset: 'cifar10',
      network: 'cnvW1A1',
      activationBits: '2',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      'parameter activationBits=2 does not fit network cnvW1A1 (A1); leave it empty',
    );
  });

  it('makes a run id when none is given', () => {
    const i = readyInstance();
    const r = startRun(i, { dataset: 'fashion-mnist' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toMatch(/^\d{8}-\d{6}-fashion-mnist-[0-9a-f]{4}$/);
  });

  it('refuses, with what to do, when the instance is not ready', () => {
    const i = readyInstance();
    fs.writeFileSync(path.join(i.root, 'state', 'bootstrap-state'), 'failed: python-env\n');
    const r = startRun(i, { runId: 'run-not-ready' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("the instance is not ready to train: bootstrap state is 'failed: python-env'");
    expect(i.calls('systemctl').filter((l) => l.includes('start'))).toEqual([]);
  });

  it('refuses a second run while one is in progress, a used run id, and an unknown dataset', () => {
    const i = readyInstance();
    fs.writeFileSync(
      path.join(i.shimDir, 'active-units'),
      'bnn-pynq-train@run-busy.service loaded active running bnn-pynq training run run-busy\n',
    );
    let r = startRun(i, { runId: 'run-second' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('run run-busy is still in progress on this instance');
    fs.rmSync(path.join(i.shimDir, 'active-units'));
    r = startRun(i, { runId: 'run-start-1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("run id 'run-start-1' is already used");
    r = startRun(i, { runId: 'run-other-data', dataset: 'my-cats' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "dataset 'my-cats' not found: s3://ds/datasets/my-cats/dataset.json does not exist",
    );
  });
});

describe('the run (bnn-pynq-train@<runId>.service body)', () => {
  it('trains, pushes progress and checkpoints every epoch, publishes result.json then model.npz, stops the instance', async () => {
    const i = readyInstance();
    expect(startRun(i, { runId: 'run-full', epochs: '2' }).status).toBe(0);
    i.clearCalls();
    const r = i.run(RUN_TRAINING, ['run-full']);
    expect(r.status).toBe(0);
    const keys = runKeys('run-full');
    const progress = (await text(keys.progress)).trim().split('\n');
    expect(progress.map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
    expect(await text(keys.model)).toBe('NPZ-best-model');
    expect(JSON.parse(await text(keys.result)).runId).toBe('run-full');
    expect(await text(keys.log)).toContain('epoch 2 done');
    const st = await state('run-full');
    expect(st.state).toBe('succeeded');
    expect(RUN_STATES).toContain(st.state);
    // The trainer got the contract's arguments; the ones left empty (batch size, learning rates, bits, graph) are
    // the network's own, chosen by bnn_train.
    const train = i.calls('python').find((l) => l.includes('-m bnn_train')) ?? '';
    expect(train).toContain(
      `-m bnn_train --data-dir ${i.root}/datasets/fashion-mnist --run-dir ${i.root}/runs/run-full --run-id run-full --dataset fashion-mnist --device cpu --network lfcW1A1 --epochs 2 --seed 0 --select board --on-epoch`,
    );
    // Checkpoint files pushed after every epoch (2 files × 2 epochs), each tagged for the lifecycle rule.
    const puts = i.calls('aws').filter((l) => l.includes('put-object') && l.includes('/checkpoint/'));
    expect(puts).toHaveLength(4);
    // (s3rver ignores the x-amz-tagging header of PutObject, so the tag is checked on the call S3 receives.)
    const tagging = `--tagging ${encodeURIComponent(CHECKPOINT_TAG.key)}=${encodeURIComponent(CHECKPOINT_TAG.value)}`;
    for (const put of puts) expect(put).toContain(tagging);
    expect(await text(`${keys.checkpointPrefix}latest.json`)).toBe('{"epoch": 2}\n');
    // result.json lands before model.npz (the conversion job starts on model.npz).
    const cps = i.calls('aws').filter((l) => / s3 cp .*(model\.npz|result\.json) s3:/.test(l));
    expect(cps.map((l) => /(model\.npz|result\.json) s3:/.exec(l)?.[1])).toEqual([
      'result.json',
      'model.npz',
    ]);
    expect(i.calls('shutdown')).toEqual(['shutdown -h now']);
    expect(i.calls('systemctl')).toContain('systemctl disable bnn-pynq-train@run-full.service');
    // The run's log goes to CloudWatch, stream runs/<runId> (logStreams.run in layout).
    const conf = path.join(i.env.BNN_CWAGENT_DIR, 'etc', 'bnn-pynq-run-run-full.json');
    expect(i.calls('amazon-cloudwatch-agent-ctl')).toEqual([
      `amazon-cloudwatch-agent-ctl -a append-config -m ec2 -s -c file:${conf}`,
    ]);
    expect(JSON.parse(fs.readFileSync(conf, 'utf8')).logs.logs_collected.files.collect_list).toEqual([
      {
        file_path: `${i.root}/runs/run-full/train.log`,
        log_group_name: '/bnn-pynq/Test/logs',
        log_stream_name: logStreams.run('run-full'),
      },
    ]);

    // Started again (a reboot before the unit was disabled, a duplicate start): nothing happens.
    i.clearCalls();
    expect(i.run(RUN_TRAINING, ['run-full']).status).toBe(0);
    expect(i.calls('python')).toEqual([]);
    expect(i.calls('shutdown')).toEqual([]);
  });

  it('after a crash, resumes from the last checkpoint pulled from S3 when the local run folder is gone', async () => {
    const i = readyInstance();
    expect(startRun(i, { runId: 'run-resume', epochs: '3', keepRunning: 'true' }).status).toBe(0);
    const crashed = i.run(RUN_TRAINING, ['run-resume'], { SHIM_TRAIN_CRASH_AT: '1' });
    expect(crashed.status).toBe(1); // systemd's Restart=on-failure takes it from here
    const st = await state('run-resume');
    expect(st.state).toBe('running');
    expect(st.message).toContain('bnn_train exited 1 (attempt 1 of 4); systemd restarts it');
    expect(await text(`${runKeys('run-resume').checkpointPrefix}latest.json`)).toBe('{"epoch": 1}\n');

    // The instance comes back on a fresh disk: the run folder (checkpoint, progress, run.json) is gone.
    fs.rmSync(path.join(i.root, 'runs', 'run-resume'), { recursive: true });
    i.clearCalls();
    const resumed = i.run(RUN_TRAINING, ['run-resume']);
    expect(resumed.status).toBe(0);
    const starts = fs.readFileSync(path.join(i.root, 'runs', 'run-resume', '.shim-starts'), 'utf8');
    expect(starts).toBe('start=2 id=run-resume dataset=fashion-mnist device=cpu\n');
    const progress = (await text(runKeys('run-resume').progress)).trim().split('\n');
    expect(progress.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3]);
    expect((await state('run-resume')).state).toBe('succeeded');
    expect(i.calls('shutdown')).toEqual([]); // keepRunning=true
  });

  it('SIGTERM (stop, reboot, spot interruption): the checkpoint is kept and pushed, state stopped, then it resumes', async () => {
    const i = readyInstance();
    expect(startRun(i, { runId: 'run-sigterm', epochs: '2' }).status).toBe(0);
    const { child, done } = i.start(RUN_TRAINING, ['run-sigterm'], { SHIM_EPOCH_SECONDS: '3' });
    const progress = path.join(i.root, 'runs', 'run-sigterm', 'progress.jsonl');
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(progress) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1500)); // inside epoch 2
    child.kill('SIGTERM');
    const { status, output } = await done;
    expect(status).toBe(143);
    expect(output).toContain('SIGTERM: keeping checkpoint of epoch 1');
    expect((await state('run-sigterm')).state).toBe('stopped');
    expect(await text(`${runKeys('run-sigterm').checkpointPrefix}latest.json`)).toBe('{"epoch": 1}\n');
    expect(i.calls('shutdown')).toEqual([]);

    const again = i.run(RUN_TRAINING, ['run-sigterm']);
    expect(again.status).toBe(0);
    expect(fs.readFileSync(path.join(i.root, 'runs', 'run-sigterm', '.shim-starts'), 'utf8')).toContain(
      'start=2 ',
    );
    expect((await state('run-sigterm')).state).toBe('succeeded');
  });

  it('bad input (trainer exit 2) fails the run with the trainer’s message, without retries, and stops the instance', async () => {
    const i = readyInstance();
    expect(startRun(i, { runId: 'run-bad' }).status).toBe(0);
    const r = i.run(RUN_TRAINING, ['run-bad'], { SHIM_TRAIN_BAD_INPUT: '1' });
    expect(r.status).toBe(0); // not a failure for systemd: no restart
    const st = await state('run-bad');
    expect(st.state).toBe('failed');
    expect(st.message).toContain('label 70 is out of range');
    expect(i.calls('shutdown')).toEqual(['shutdown -h now']);
  });
});
