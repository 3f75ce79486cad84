import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BOOTSTRAP_STATE_TAG, instanceRecordKeys } from '../../lib/layout';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { BUCKETS, FakeInstance, INSTANCE_ID, INSTANCE_SCRIPTS, pin, SHIMS, VENDOR } from './support/instance';

// Runs user-data.sh / bootstrap.sh for real under bash: shims stand in for apt-get, micromamba, dpkg,
// systemctl, nvidia-smi, the metadata service and the env's python; S3 goes to the real aws CLI on loopback.

const BOOTSTRAP = path.join(INSTANCE_SCRIPTS, 'bootstrap.sh');
jest.setTimeout(180_000);

let s3: LocalS3;
const instances: FakeInstance[] = [];
beforeAll(async () => {
  s3 = await startLocalS3(Object.values(BUCKETS));
});
afterAll(async () => {
  for (const i of instances) i.cleanup();
  await s3.stop();
});
const instance = (options: ConstructorParameters<typeof FakeInstance>[1]) => {
  const i = new FakeInstance(s3, options);
  instances.push(i);
  return i;
};
const runtimeEnv = (i: FakeInstance) => fs.readFileSync(path.join(i.root, 'state', 'runtime.env'), 'utf8');
const installerCalls = (i: FakeInstance) =>
  i
    .calls()
    .filter((l) => /^(apt-get|dpkg|micromamba create|curl .*-o)/.test(l) || l.startsWith('systemctl enable'));

/** The scripts asset: a zip of scripts/instance, put where the CDK asset would be. */
async function uploadScriptsAsset(i: FakeInstance): Promise<void> {
  const zip = path.join(i.dir, 'asset.zip');
  const entries = fs.readdirSync(INSTANCE_SCRIPTS);
  const z = spawnSync('/usr/bin/python3', ['-m', 'zipfile', '-c', zip, ...entries], {
    cwd: INSTANCE_SCRIPTS,
  });
  expect(z.status).toBe(0);
  await s3.client.send(
    new PutObjectCommand({ Bucket: BUCKETS.assets, Key: 'instance-scripts.zip', Body: fs.readFileSync(zip) }),
  );
}

/** user data as cloud-init runs it: a file it wrote; BNN_SRC is its instance default ($BNN_ROOT/src). */
function userDataFile(i: FakeInstance): string {
  const userData = path.join(i.dir, 'part-001');
  fs.copyFileSync(path.join(INSTANCE_SCRIPTS, 'user-data.sh'), userData);
  i.env.BNN_SRC = path.join(i.root, 'src');
  return userData;
}

describe('user-data.sh (as inlined by the CDK app) on a CPU instance', () => {
  let i: FakeInstance;
  let first: ReturnType<FakeInstance['run']>;
  beforeAll(async () => {
    i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    await uploadScriptsAsset(i);
    first = i.run(userDataFile(i));
  });

  it('fetches the asset, installs the pinned environment and reports ready: cpu', () => {
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(fs.existsSync(path.join(i.root, 'src', 'bootstrap.sh'))).toBe(true);
    expect(fs.readFileSync(path.join(i.root, 'boot.sh'), 'utf8')).toBe(
      fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'user-data.sh'), 'utf8'),
    );
    expect(i.ssmStates()).toEqual(['installing', 'ready: cpu']);
    expect(i.tags()).toEqual([
      [INSTANCE_ID, BOOTSTRAP_STATE_TAG, 'installing'],
      [INSTANCE_ID, BOOTSTRAP_STATE_TAG, 'ready: cpu'],
    ]);
    const create = i.calls('micromamba').find((l) => l.startsWith('micromamba create'));
    expect(create).toBe(
      `micromamba create -y -r ${i.root}/mamba -p ${i.root}/env --override-channels -c conda-forge --strict-channel-priority ${pin('CONDA_PACKAGES')}`,
    );
    expect(create).not.toContain('cudatoolkit');
    expect(i.calls('apt-get')).toEqual([
      'apt-get -o DPkg::Lock::Timeout=900 update -q',
      'apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends g++ patch jq curl ca-certificates',
    ]);
    expect(runtimeEnv(i)).toContain('BNN_DEVICE=cpu\n');
    expect(runtimeEnv(i)).toContain(
      `THEANO_FLAGS=${pin('THEANO_FLAGS_COMMON')},base_compiledir=${i.root}/theano-cache,${pin('THEANO_FLAGS_CPU')}\n`,
    );
    // The env's lib folder (OpenBLAS that theano's compiled ops link against) on CPU too.
    expect(runtimeEnv(i)).toContain(`LD_LIBRARY_PATH=${i.root}/env/lib\n`);
    // The CPU smoke check ran on device=cpu; no GPU was tried on a CPU instance.
    const smokes = i.calls().filter((l) => l.includes(' -c import numpy'));
    expect(smokes).toHaveLength(1);
    expect(smokes[0]).toContain('device=cpu');
  });

  it('trains one LFC epoch on the chosen device and records it with the environment lock, locally and in S3', async () => {
    const record = JSON.parse(fs.readFileSync(path.join(i.root, 'state', 'first-epoch.json'), 'utf8'));
    expect(record).toMatchObject({
      network: 'lfcW1A1',
      device: 'cpu',
      images: 1000,
      seconds_per_epoch: 41.7,
    });
    const epochCalls = i.calls().filter((l) => l.includes(' -m bnn_train.smoke '));
    expect(epochCalls).toHaveLength(1);
    expect(epochCalls[0]).toContain('--device cpu --images 1000');
    expect(epochCalls[0]).toMatch(/THEANO_FLAGS=\S*device=cpu/);
    const keys = instanceRecordKeys(INSTANCE_ID);
    const get = async (key: string) =>
      (
        await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: key }))
      ).Body?.transformToString();
    expect(JSON.parse((await get(keys.firstEpoch)) ?? '')).toEqual(record);
    expect(await get(keys.environmentLock)).toBe(
      fs.readFileSync(path.join(i.root, 'state', 'environment.lock.txt'), 'utf8'),
    );
    expect(await get(keys.environmentLock)).toContain('@EXPLICIT');
  });

  it('unpacks the pinned sources (digest-checked) with the project patches applied', () => {
    const src = path.join(i.root, 'sources');
    const quant = fs.readFileSync(
      path.join(src, 'bnn-pynq', 'bnn', 'src', 'training', 'quantization.py'),
      'utf8',
    );
    expect(quant).not.toContain('def c_code(self, node, name, (x,), (z,), sub)'); // Python-3 patch applied
    const space = fs.readFileSync(path.join(src, 'pylearn2', 'pylearn2', 'space', '__init__.py'), 'utf8');
    expect(space).not.toContain('theano.compat.six');
    const pth = fs.readFileSync(
      path.join(i.root, 'env', 'lib', 'python3.9', 'site-packages', 'bnn-pynq-sources.pth'),
      'utf8',
    );
    expect(pth.split('\n').filter(Boolean)).toEqual([
      `${src}/lasagne`,
      `${src}/pylearn2`,
      `${src}/bnn-pynq/bnn/src/training`,
    ]);
  });

  it('installs the systemd units with this host’s paths and enables the boot service', () => {
    const unit = fs.readFileSync(path.join(i.env.BNN_SYSTEMD_DIR, 'bnn-pynq-train@.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/bin/bash ${i.root}/src/run-training.sh %i`);
    expect(unit).toContain('Restart=on-failure');
    expect(fs.readFileSync(path.join(i.env.BNN_SYSTEMD_DIR, 'bnn-pynq-boot.service'), 'utf8')).toContain(
      `ExecStart=/bin/bash ${i.root}/boot.sh`,
    );
    expect(i.calls('systemctl')).toContain('systemctl enable bnn-pynq-boot.service');
  });

  it('ships bootstrap.log to CloudWatch with an agent config naming the stack log group', () => {
    const config = JSON.parse(
      fs.readFileSync(path.join(i.env.BNN_CWAGENT_DIR, 'etc', 'bnn-pynq.json'), 'utf8'),
    );
    expect(config.logs.logs_collected.files.collect_list[0]).toMatchObject({
      file_path: `${i.env.BNN_LOG_DIR}/bootstrap.log`,
      log_group_name: '/bnn-pynq/Test/logs',
      log_stream_name: 'bootstrap/{instance_id}',
    });
    expect(i.calls('amazon-cloudwatch-agent-ctl')).toEqual([
      `amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${i.env.BNN_CWAGENT_DIR}/etc/bnn-pynq.json`,
    ]);
    const log = fs.readFileSync(path.join(i.env.BNN_LOG_DIR, 'bootstrap.log'), 'utf8');
    for (const step of ['system-packages', 'cloudwatch-agent', 'micromamba', 'python-env', 'sources']) {
      expect(log).toContain(`step ${step}: done`);
    }
  });

  it('a second run (the boot service after a reboot) changes nothing', () => {
    const before = i.snapshot();
    const statesBefore = i.ssmStates().length;
    i.clearCalls();
    const again = i.run(path.join(i.root, 'boot.sh'));
    expect(again.status).toBe(0);
    expect(installerCalls(i)).toEqual([]);
    expect(i.calls('aws').filter((l) => l.includes(' s3 '))).toEqual([]); // asset not fetched again
    expect(i.snapshot()).toEqual(before);
    // No `installing` flicker: the state is re-confirmed as it was.
    expect(i.ssmStates().slice(statesBefore)).toEqual(['ready: cpu']);
  });

  it('after a redeploy changed the user data, the boot service runs the new user data once', () => {
    // The new user data, as instance metadata serves it after `cdk deploy` (stand-in body: leaves a mark).
    const newUserData = path.join(i.dir, 'user-data-v2');
    fs.writeFileSync(newUserData, '#!/bin/bash\necho "$0" >>"$BNN_ROOT/v2-ran"\n');
    i.writeUrls([['http://169.254.169.254/latest/user-data', newUserData]], true);
    const boot = i.run(path.join(i.root, 'boot.sh'));
    expect(boot.status).toBe(0);
    expect(fs.readFileSync(path.join(i.root, 'v2-ran'), 'utf8')).toBe(
      `${path.join(i.root, 'user-data.last')}\n`,
    );
    expect(fs.readFileSync(path.join(i.root, 'user-data.last'), 'utf8')).toBe(
      fs.readFileSync(newUserData, 'utf8'),
    );
    // The next boot finds it unchanged: the normal boot path, the new user data is not run again.
    const again = i.run(path.join(i.root, 'boot.sh'));
    expect(again.status).toBe(0);
    expect(fs.readFileSync(path.join(i.root, 'v2-ran'), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    expect(i.ssmStates().at(-1)).toBe('ready: cpu');
  });
});

describe('device choice', () => {
  it('nvidia-smi answers and theano computes on cuda0 → ready: gpu, with the CUDA runtime in the env', () => {
    const i = instance({ nvidia: 'ok', deviceHint: 'gpu' });
    const r = i.run(BOOTSTRAP, [], { SHIM_GPU_SMOKE: 'ok' });
    expect(r.status).toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'ready: gpu']);
    expect(i.calls().find((l) => l.startsWith('micromamba create'))).toContain(pin('CONDA_PACKAGES_GPU'));
    const env = runtimeEnv(i);
    expect(env).toContain('BNN_DEVICE=cuda\n');
    expect(env).toMatch(/^THEANO_FLAGS=.*device=cuda0,dnn\.enabled=False/m);
    expect(env).toContain(`LD_LIBRARY_PATH=${i.root}/env/lib\n`);
    // libgpuarray dlopens unversioned names: the bootstrap links them.
    const lib = path.join(i.root, 'env', 'lib');
    expect(fs.readlinkSync(path.join(lib, 'libnvrtc.so'))).toBe('libnvrtc.so.11.8.89');
    expect(fs.readlinkSync(path.join(lib, 'libcublas.so'))).toBe('libcublas.so.11.11.3.6');
    expect(fs.readlinkSync(path.join(lib, 'libcuda.so'))).toBe('/usr/lib/x86_64-linux-gnu/libcuda.so.1');
    // The first epoch trained on the GPU, with the GPU's flags and the env's CUDA runtime.
    const record = JSON.parse(fs.readFileSync(path.join(i.root, 'state', 'first-epoch.json'), 'utf8'));
    expect(record).toMatchObject({ device: 'cuda', device_name: 'Tesla T4', seconds_per_epoch: 1.83 });
    expect(i.calls().find((l) => l.includes(' -m bnn_train.smoke '))).toMatch(/device=cuda0.*--device cuda/);
  });

  it('the GPU initialises but a training epoch on it fails → falls back to CPU, naming the failing library', () => {
    const i = instance({ nvidia: 'ok', deviceHint: 'gpu' });
    const r = i.run(BOOTSTRAP, [], { SHIM_GPU_SMOKE: 'ok', SHIM_GPU_EPOCH: 'fail' });
    expect(r.status).toBe(0);
    const states = i.ssmStates();
    expect(states[states.length - 1]).toMatch(
      /^ready: cpu \(gpu check failed: training epoch on cuda0: bnn_train\.smoke: error: one training epoch on cuda failed: GpuArrayException: Could not load libcublas\.so/,
    );
    expect(runtimeEnv(i)).toContain('BNN_DEVICE=cpu\n');
    expect(runtimeEnv(i)).toMatch(/^THEANO_FLAGS=.*device=cpu,openmp=True/m);
    const record = JSON.parse(fs.readFileSync(path.join(i.root, 'state', 'first-epoch.json'), 'utf8'));
    expect(record.device).toBe('cpu');
    expect(
      i
        .calls()
        .filter((l) => l.includes(' -m bnn_train.smoke '))
        .map((l) => /--device (\w+)/.exec(l)?.[1]),
    ).toEqual(['cuda', 'cpu']);
  });

  it('nvidia-smi answers but the theano GPU smoke check fails → ready: cpu (gpu check failed: <reason>)', () => {
    const i = instance({ nvidia: 'ok', deviceHint: 'gpu' });
    const r = i.run(BOOTSTRAP, [], { SHIM_GPU_SMOKE: 'fail' });
    expect(r.status).toBe(0);
    const states = i.ssmStates();
    expect(states[states.length - 1]).toBe(
      'ready: cpu (gpu check failed: theano on cuda0: pygpu.gpuarray.GpuArrayException: (b nvrtcCompileProgram: NVRTC_ERROR_INVALID_OPTION 3))',
    );
    expect(runtimeEnv(i)).toContain('BNN_DEVICE=cpu\n');
    expect(runtimeEnv(i)).toMatch(/^THEANO_FLAGS=.*device=cpu,openmp=True/m);
  });

  it('nvidia-smi fails → ready: cpu with the driver’s message, and no CUDA runtime installed', () => {
    const i = instance({ nvidia: 'fail', deviceHint: 'gpu' });
    const r = i.run(BOOTSTRAP);
    expect(r.status).toBe(0);
    const states = i.ssmStates();
    expect(states[states.length - 1]).toBe(
      "ready: cpu (gpu check failed: nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.)".replace(
        "'",
        ' ',
      ),
    );
    expect(i.calls().find((l) => l.startsWith('micromamba create'))).not.toContain('cudatoolkit');
    expect(i.calls().filter((l) => l.includes('device=cuda'))).toEqual([]);
  });

  it('no nvidia-smi on a GPU instance type → ready: cpu (gpu check failed: nvidia-smi not found)', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'gpu' });
    expect(i.run(BOOTSTRAP).status).toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'ready: cpu (gpu check failed: nvidia-smi not found)']);
  });
});

describe('failures are reported as failed: <step>', () => {
  it('a failing install step is published, and the next run redoes only that step and what follows', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    const r = i.run(BOOTSTRAP, [], { SHIM_MAMBA_FAIL: '1' });
    expect(r.status).not.toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'failed: python-env']);
    expect(i.tags().map((t) => t[2])).toEqual(['installing', 'failed: python-env']);
    expect(fs.readFileSync(path.join(i.root, 'state', 'bootstrap-state'), 'utf8')).toBe(
      'failed: python-env\n',
    );
    expect(fs.existsSync(path.join(i.root, 'state', 'runtime.env'))).toBe(false);

    i.clearCalls();
    const retry = i.run(BOOTSTRAP);
    expect(retry.status).toBe(0);
    expect(i.calls('apt-get')).toEqual([]); // done before, not repeated
    expect(i.calls().filter((l) => l.startsWith('micromamba create'))).toHaveLength(1);
    expect(i.ssmStates().slice(-2)).toEqual(['installing', 'ready: cpu']);
  });

  it('a micromamba download whose SHA-256 is not the pinned one is refused → failed: micromamba', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu', micromambaInstalled: false });
    const r = i.run(BOOTSTRAP);
    expect(r.status).not.toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'failed: micromamba']);
    expect(r.stdout).toContain(`expected ${pin('MICROMAMBA_SHA256')}`);
    expect(fs.existsSync(path.join(i.root, 'bin', 'micromamba'))).toBe(false);
  });

  it('a source archive that is not the pinned commit is refused → failed: sources', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    // Serve pylearn2 with one file changed.
    const tampered = path.join(i.dir, 'pylearn2-tampered');
    fs.mkdirSync(tampered);
    expect(
      spawnSync('tar', ['-xzf', path.join(VENDOR, 'pylearn2-af81e5c.tar.gz'), '-C', tampered]).status,
    ).toBe(0);
    fs.appendFileSync(path.join(tampered, 'pylearn2-af81e5c', 'pylearn2', '__init__.py'), '\n# changed\n');
    const archive = path.join(i.dir, 'pylearn2.tar.gz');
    expect(spawnSync('tar', ['-czf', archive, '-C', tampered, 'pylearn2-af81e5c']).status).toBe(0);
    i.writeUrls([[pin('PYLEARN2_URL'), archive]], false);
    i.writeUrls(
      [
        [pin('LASAGNE_URL'), path.join(VENDOR, 'lasagne-5d3c63c.tar.gz')],
        [
          'https://s3.us-east-1.amazonaws.com/amazoncloudwatch-agent-us-east-1/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb',
          path.join(SHIMS, 'dpkg'),
        ],
      ],
      true,
    );
    const r = i.run(BOOTSTRAP);
    expect(r.status).not.toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'failed: sources']);
    expect(r.stdout).toMatch(
      new RegExp(`pylearn2 from .*: content digest [0-9a-f]{64}, expected ${pin('PYLEARN2_DIGEST')}`),
    );
    expect(fs.existsSync(path.join(i.root, 'sources', 'pylearn2'))).toBe(false);
  });
});

describe('the first boot survives transient failures', () => {
  it('a source download that fails once is retried (with backoff) and the bootstrap completes', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    const lasagne = pin('LASAGNE_URL');
    const r = i.run(BOOTSTRAP, [], { SHIM_CURL_FAIL_URL: 'Lasagne', SHIM_CURL_FAIL_TIMES: '1' });
    expect(r.status).toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'ready: cpu']);
    expect(i.calls('curl').filter((l) => l.endsWith(lasagne))).toHaveLength(2);
    expect(r.stdout).toMatch(
      /attempt 1 of 5 failed \(exit 56\), retrying in 0s: https:\/\/github\.com\/Lasagne/,
    );
    expect(r.stdout).toContain('curl: (56) Recv failure: Connection reset by peer');
    expect(fs.existsSync(path.join(i.root, 'sources', 'lasagne', 'lasagne', '__init__.py'))).toBe(true);
  });

  it('an HTTP 4xx is final (not retried): the next source is tried at once', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    const regional =
      'https://s3.us-east-1.amazonaws.com/amazoncloudwatch-agent-us-east-1/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb';
    const global =
      'https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb';
    // The regional agent URL answers 404 (not in the shim's table); the global one has it.
    i.writeUrls([
      [pin('LASAGNE_URL'), path.join(VENDOR, 'lasagne-5d3c63c.tar.gz')],
      [pin('PYLEARN2_URL'), path.join(VENDOR, 'pylearn2-af81e5c.tar.gz')],
      [pin('BNN_PYNQ_URL'), path.join(VENDOR, 'bnn-pynq-training-d39c1c7.tar.gz')],
      [global, path.join(SHIMS, 'dpkg')],
    ]);
    const r = i.run(BOOTSTRAP);
    expect(r.status).toBe(0);
    expect(i.calls('curl').filter((l) => l.endsWith(regional))).toHaveLength(1);
    expect(i.calls('curl').filter((l) => l.endsWith(global))).toHaveLength(1);
    expect(r.stdout).toContain(`${regional}: HTTP 404 (not retried)`);
    expect(i.ssmStates()).toEqual(['installing', 'ready: cpu']);
  });

  it('a download that keeps failing gives up after 5 attempts → failed: <step>, nothing half-written', () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    const r = i.run(BOOTSTRAP, [], { SHIM_CURL_FAIL_URL: 'Lasagne', SHIM_CURL_FAIL_TIMES: '99' });
    expect(r.status).not.toBe(0);
    expect(i.ssmStates()).toEqual(['installing', 'failed: sources']);
    expect(i.calls('curl').filter((l) => l.includes('Lasagne'))).toHaveLength(5);
    expect(r.stdout).toContain('giving up after 5 attempts (exit 56)');
    expect(fs.readdirSync(path.join(i.root, 'sources')).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('user data installs the boot service before anything that can fail; the next boot retries and succeeds', async () => {
    const i = instance({ nvidia: 'absent', deviceHint: 'cpu' });
    await uploadScriptsAsset(i);
    const userData = userDataFile(i);
    // The asset download fails on every attempt (5, with backoff) on the first boot.
    const first = i.run(userData, [], { SHIM_AWS_S3_FAIL_TIMES: '5' });
    expect(first.status).not.toBe(0);
    expect(i.ssmStates()).toEqual(['failed: asset-download']);
    expect(i.calls('aws').filter((l) => l.includes(' s3 cp '))).toHaveLength(5);
    // ... but the boot service already exists and is enabled, pointing at the kept copy of the user data.
    const unit = fs.readFileSync(path.join(i.env.BNN_SYSTEMD_DIR, 'bnn-pynq-boot.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/bin/bash ${i.root}/boot.sh`);
    expect(unit).toContain('After=network-online.target cloud-final.service');
    expect(i.calls('systemctl')).toContain('systemctl enable bnn-pynq-boot.service');
    expect(fs.readFileSync(path.join(i.root, 'boot.sh'), 'utf8')).toBe(fs.readFileSync(userData, 'utf8'));
    expect(fs.existsSync(path.join(i.root, 'src'))).toBe(false);

    // The next boot: the service runs boot.sh; one more transient failure, then the download works.
    const boot = i.run(path.join(i.root, 'boot.sh'), [], { SHIM_AWS_S3_FAIL_TIMES: '6' });
    expect(boot.status).toBe(0);
    expect(i.ssmStates()).toEqual(['failed: asset-download', 'installing', 'ready: cpu']);
    expect(fs.readFileSync(path.join(i.env.BNN_LOG_DIR, 'bootstrap.log'), 'utf8')).toMatch(
      /user-data: attempt 1 of 5 failed \(exit 1\), retrying in 0s: aws .* s3 cp/,
    );
  });
});
