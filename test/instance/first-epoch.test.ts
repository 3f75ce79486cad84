import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { runStatus } from '../../lib/cli/commands/status';
import { describeFirstEpoch } from '../../lib/cloud/instance';
import { instanceRecordKeys } from '../../lib/layout';
import { mockedCloud } from '../cloud/support';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { cpuEnvVars } from '../training/trainer';
import { BUCKETS, FakeInstance, INSTANCE_ID, INSTANCE_SCRIPTS } from './support/instance';

// The first boot's measurement for real: `python3 -m bnn_train.smoke --device cpu` (the same code path the GPU takes,
// with the pinned vendor environment of scripts/dev/cpu-env.sh) trains BNN-PYNQ's LFC for one epoch on 1,000 random
// images; the bootstrap's own publish function puts the record in the (loopback) ArtifactBucket; `bnn-pynq status`
// (SSM/EC2 mocked) reads it back and shows it.

jest.setTimeout(900_000);

let s3: LocalS3;
let cpuEnv: { PYTHONPATH: string; THEANO_FLAGS: string };
let i: FakeInstance;
beforeAll(async () => {
  cpuEnv = cpuEnvVars();
  s3 = await startLocalS3(Object.values(BUCKETS));
  i = new FakeInstance(s3, { deviceHint: 'cpu' });
});
afterAll(async () => {
  i?.cleanup();
  await s3?.stop();
});

const text = async (key: string) =>
  (
    await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }))
  ).Body?.transformToString();

function statusEnv(bootstrapState: string, imageId = 'ami-0c0ffee1234567890') {
  const st = mockedCloud({
    s3: s3.client,
    discovery: {
      'artifact-bucket': BUCKETS.artifacts,
      'instance-id': INSTANCE_ID,
      'bootstrap-state': bootstrapState,
    },
  });
  st.mocks.ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE_ID,
            InstanceType: 'c7i.4xlarge',
            ImageId: imageId,
            State: { Name: 'running' as const },
          },
        ],
      },
    ],
  });
  st.mocks.ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ PingStatus: 'Online' as const }] });
  return st;
}

it('one real LFC epoch on CPU: record written, published by the bootstrap, shown by status', async () => {
  const out = path.join(i.root, 'state', 'first-epoch.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const run = spawnSync('/usr/bin/python3', ['-m', 'bnn_train.smoke', '--device', 'cpu', '--out', out], {
    encoding: 'utf8',
    cwd: i.dir,
    env: {
      PATH: '/usr/bin:/bin',
      HOME: i.dir,
      LANG: 'C.UTF-8',
      PYTHONPATH: `${INSTANCE_SCRIPTS}:${cpuEnv.PYTHONPATH}`,
      THEANO_FLAGS: cpuEnv.THEANO_FLAGS,
    },
    timeout: 600_000,
  });
  expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr.slice(-2000) }).toEqual({
    status: 0,
    stderr: '',
  });
  const record = JSON.parse(fs.readFileSync(out, 'utf8'));
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
  expect(record).toMatchObject({
    network: 'lfcW1A1',
    device: 'cpu',
    device_name: cpuModel,
    images: 1000,
    batch_size: 100,
  });
  expect(record.seconds_per_epoch).toBeGreaterThan(0);
  expect(Number.isFinite(record.train_loss)).toBe(true);
  expect(record.versions).toMatchObject({ theano: '1.0.5', theano_device: 'cpu' });
  expect(run.stdout).toMatch(/bnn_train\.smoke: cpu \(.*\): \d+\.\d\d s per epoch on 1000 images/);

  // The bootstrap's publish step (lib/common.sh), as the instance runs it: record and lock under instance/<id>/.
  const lock = path.join(i.root, 'state', 'environment.lock.txt');
  fs.writeFileSync(
    lock,
    '@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/theano-1.0.5-py39hf3d152e_3.tar.bz2\n',
  );
  const publish = path.join(i.dir, 'publish.sh');
  fs.writeFileSync(
    publish,
    '. "$BNN_SRC/lib/common.sh"\nload_env_file\npublish_instance_records "$1" "$2"\n',
  );
  const pub = i.run(publish, [out, lock]);
  expect({ status: pub.status, out: pub.stdout + pub.stderr }).toEqual({ status: 0, out: '' });
  const keys = instanceRecordKeys(INSTANCE_ID);
  expect(JSON.parse((await text(keys.firstEpoch)) ?? '')).toEqual(record);
  expect(await text(keys.environmentLock)).toBe(fs.readFileSync(lock, 'utf8'));

  // status reads it back.
  const st = statusEnv('ready: cpu');
  await runStatus(st.env);
  const seconds =
    record.seconds_per_epoch < 10
      ? record.seconds_per_epoch.toFixed(1)
      : String(Math.round(record.seconds_per_epoch));
  expect(st.term.stdout).toContain(
    `bootstrap:  ready: cpu (${cpuModel}, ${seconds} s/epoch on 1,000 images)\n`,
  );
  expect(st.term.stdout).toContain('ami:        ami-0c0ffee1234567890 (kept for the instance');
});

it('status on a GPU instance: `ready: gpu (Tesla T4, 1.8 s/epoch on 1,000 images)`; a GPU fallback keeps its reason', async () => {
  const gpuRecord = {
    network: 'lfcW1A1',
    device: 'cuda',
    device_name: 'Tesla T4',
    images: 1000,
    batch_size: 100,
    seconds_per_epoch: 1.834,
  };
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKETS.artifacts,
      Key: instanceRecordKeys(INSTANCE_ID).firstEpoch,
      Body: JSON.stringify(gpuRecord),
    }),
  );
  const gpu = statusEnv('ready: gpu');
  await runStatus(gpu.env);
  expect(gpu.term.stdout).toContain('bootstrap:  ready: gpu (Tesla T4, 1.8 s/epoch on 1,000 images)\n');

  // The GPU epoch failed and the instance measured the CPU instead: the reason stays, then the CPU figure.
  const cpuRecord = {
    ...gpuRecord,
    device: 'cpu',
    device_name: 'Intel(R) Xeon(R) Platinum 8259CL',
    seconds_per_epoch: 41.7,
  };
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKETS.artifacts,
      Key: instanceRecordKeys(INSTANCE_ID).firstEpoch,
      Body: JSON.stringify(cpuRecord),
    }),
  );
  const fallback = statusEnv(
    'ready: cpu (gpu check failed: training epoch on cuda0: Could not load libcublas.so)',
  );
  await runStatus(fallback.env);
  expect(fallback.term.stdout).toContain(
    'bootstrap:  ready: cpu (gpu check failed: training epoch on cuda0: Could not load libcublas.so); first epoch: Intel(R) Xeon(R) Platinum 8259CL, 42 s/epoch on 1,000 images\n',
  );
  // A record of the other device (e.g. from before a fallback) is not shown as this one's figure.
  const stale = statusEnv('ready: gpu');
  await runStatus(stale.env);
  expect(stale.term.stdout).toContain('bootstrap:  ready: gpu\n');
  expect(
    describeFirstEpoch({ device: 'cuda', deviceName: 'NVIDIA A10G', secondsPerEpoch: 0.94, images: 1000 }),
  ).toBe('NVIDIA A10G, 0.9 s/epoch on 1,000 images');
});
