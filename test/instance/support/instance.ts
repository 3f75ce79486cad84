import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { captures, must } from '../../../lib/defined';
import { DATASET_MANIFEST_FILE, IDX_FILES } from '../../../lib/layout';
import type { LocalS3 } from '../../support/s3-server';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const INSTANCE_SCRIPTS = path.join(REPO, 'scripts', 'instance');
export const SHIMS = path.resolve(__dirname, '..', 'shims');
export const VENDOR = path.resolve(REPO, '..', 'shared', 'vendor');
export const SHARED_DATA = path.resolve(REPO, '..', 'shared', 'data');

export const BUCKETS = { datasets: 'ds', artifacts: 'art', assets: 'assets' };
export const STATE_PARAM = '/bnn-pynq/Test/bootstrap-state';
export const INSTANCE_ID = 'i-0abc1234def567890';

/**
 * The aws CLI fork server of this test file (aws-cli-server.py): started with the first FakeInstance, stopped
 * (and waited for, so its CPU time counts for this file) after the file's last test. BNN_TEST_REAL_AWS_CLI=1
 * starts /usr/bin/aws for every call instead.
 */
let awsServer: { socket: string; child: ChildProcess; exited: Promise<void>; dir: string } | undefined;
export const AWS_CLI_CLIENT = path.join(__dirname, 'aws-cli-client.py');
export function awsServerSocket(): string | undefined {
  if (process.env.BNN_TEST_REAL_AWS_CLI === '1') return undefined;
  if (!awsServer) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aws-cli-server-'));
    const socket = path.join(dir, 'socket');
    const child = spawn('/usr/bin/python3', [path.join(__dirname, 'aws-cli-server.py'), socket], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // No python3 ('error'): the client finds no socket and runs /usr/bin/aws.
    const exited = new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.on('error', () => resolve());
    });
    awsServer = { socket, child, exited, dir };
  }
  return awsServer.socket;
}
// Registered when a test file loads this module (hooks cannot be added from inside a test).
if (typeof afterAll === 'function')
  afterAll(async () => {
    if (!awsServer) return;
    const { child, exited, dir } = awsServer;
    awsServer = undefined;
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  });

/**
 * Puts fashion-mnist into the DatasetBucket as if already cached there: the 50-image sample of
 * ../shared/data with its dataset.json (SHA-256 of each file's decompressed bytes), written last.
 */
export async function cacheSampleDataset(s3: LocalS3): Promise<void> {
  const sample = path.join(SHARED_DATA, 'fashion-mnist-sample');
  const files: Record<string, { sha256: string }> = {};
  for (const f of Object.values(IDX_FILES)) {
    const gz = fs.readFileSync(path.join(sample, f));
    files[f] = { sha256: crypto.createHash('sha256').update(zlib.gunzipSync(gz)).digest('hex') };
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKETS.datasets, Key: `datasets/fashion-mnist/${f}`, Body: gz }),
    );
  }
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKETS.datasets,
      Key: `datasets/fashion-mnist/${DATASET_MANIFEST_FILE}`,
      Body: JSON.stringify({ name: 'fashion-mnist', files }),
    }),
  );
}

/** The value of `name` in the KEY=value lines of scripts/instance/environment/pins.env. */
export function pin(name: string): string {
  const text = fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'environment', 'pins.env'), 'utf8');
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    const [key, value] = captures(m, 2, 'the KEY=value pattern');
    if (key === name) return value.replace(/^"(.*)"$/, '$1');
  }
  throw new Error(`scripts/instance/environment/pins.env has no ${name}`);
}

/** The environment of the instance scripts: the paths the tests read, and whatever else they set. */
export interface InstanceEnv extends Record<string, string> {
  BNN_ROOT: string;
  BNN_ENV_FILE: string;
  BNN_LOG_DIR: string;
  BNN_SYSTEMD_DIR: string;
  BNN_CWAGENT_DIR: string;
  SHIM_LOG: string;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface FakeInstanceOptions {
  /** nvidia-smi on PATH and answering (ok), on PATH and failing (fail), or not installed (absent). */
  nvidia?: 'ok' | 'fail' | 'absent';
  deviceHint?: 'gpu' | 'cpu';
  /** Use the pinned micromamba shim as if already installed (default true). */
  micromambaInstalled?: boolean;
}

/**
 * A stand-in for the training instance in a temp dir: every path the scripts use points inside it, what only
 * an instance has is a recording shim on PATH (test/instance/shims), and S3 calls go through the real Debian
 * aws CLI (started by its fork server, see awsServerSocket) to the loopback S3 server.
 */
export class FakeInstance {
  readonly dir: string;
  readonly root: string;
  readonly shimBin: string;
  readonly shimDir: string;
  readonly env: InstanceEnv;

  constructor(
    readonly s3: LocalS3,
    options: FakeInstanceOptions = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-instance-'));
    this.root = path.join(this.dir, 'opt', 'bnn-pynq');
    this.shimBin = path.join(this.dir, 'shim-bin');
    this.shimDir = path.join(this.dir, 'shim-state');
    for (const d of [
      this.root,
      this.shimBin,
      this.shimDir,
      path.join(this.dir, 'etc'),
      path.join(this.dir, 'tmp'),
    ]) {
      fs.mkdirSync(d, { recursive: true });
    }
    const nvidia = options.nvidia ?? 'absent';
    for (const name of fs.readdirSync(SHIMS)) {
      if (name === 'nvidia-smi' && nvidia === 'absent') continue;
      fs.copyFileSync(path.join(SHIMS, name), path.join(this.shimBin, name));
      fs.chmodSync(path.join(this.shimBin, name), 0o755);
    }
    const envFile = path.join(this.dir, 'etc', 'env');
    const header: Record<string, string> = {
      BNN_STACK: 'Test',
      BNN_REGION: 'us-east-1',
      BNN_DATASET_BUCKET: BUCKETS.datasets,
      BNN_ARTIFACT_BUCKET: BUCKETS.artifacts,
      BNN_LOG_GROUP: '/bnn-pynq/Test/logs',
      BNN_STATE_PARAM: STATE_PARAM,
      BNN_ASSET_URL: `s3://${BUCKETS.assets}/instance-scripts.zip`,
    };
    if (options.deviceHint) header.BNN_DEVICE_HINT = options.deviceHint;
    fs.writeFileSync(
      envFile,
      Object.entries(header)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    const urls = [
      [pin('LASAGNE_URL'), path.join(VENDOR, 'lasagne-5d3c63c.tar.gz')],
      [pin('PYLEARN2_URL'), path.join(VENDOR, 'pylearn2-af81e5c.tar.gz')],
      [pin('BNN_PYNQ_URL'), path.join(VENDOR, 'bnn-pynq-training-d39c1c7.tar.gz')],
      // Not the real micromamba: its SHA-256 cannot match the pin.
      [pin('MICROMAMBA_URL'), path.join(SHIMS, 'micromamba')],
      [
        'https://s3.us-east-1.amazonaws.com/amazoncloudwatch-agent-us-east-1/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb',
        path.join(SHIMS, 'dpkg'),
      ],
    ];
    this.writeUrls(urls);
    this.env = {
      PATH: `${this.shimBin}:/usr/bin:/bin`,
      HOME: this.dir,
      TMPDIR: path.join(this.dir, 'tmp'),
      LANG: 'C.UTF-8',
      ...s3.env,
      BNN_ROOT: this.root,
      BNN_ENV_FILE: envFile,
      BNN_LOG_DIR: path.join(this.dir, 'log'),
      BNN_SYSTEMD_DIR: path.join(this.dir, 'systemd'),
      BNN_CWAGENT_DIR: path.join(this.dir, 'cwagent'),
      BNN_SRC: INSTANCE_SCRIPTS,
      SHIM_BIN: this.shimBin,
      SHIM_DIR: this.shimDir,
      SHIM_LOG: path.join(this.shimDir, 'calls.log'),
      // Retries keep their attempts and backoff logic, without the waits.
      BNN_RETRY_DELAY: '0',
    };
    const awsSocket = awsServerSocket();
    if (awsSocket) {
      this.env.SHIM_AWS_SERVER = awsSocket;
      this.env.SHIM_AWS_CLIENT = AWS_CLI_CLIENT;
    }
    fs.mkdirSync(this.env.BNN_SYSTEMD_DIR, { recursive: true });
    if (options.micromambaInstalled ?? true) this.env.BNN_MICROMAMBA = path.join(this.shimBin, 'micromamba');
    if (nvidia === 'fail') this.env.SHIM_NVIDIA = 'fail';
  }

  writeUrls(urls: string[][], append = false): void {
    const text = urls.map(([u, f]) => `${u}\t${f}\n`).join('');
    if (append) fs.appendFileSync(path.join(this.shimDir, 'urls.tsv'), text);
    else fs.writeFileSync(path.join(this.shimDir, 'urls.tsv'), text);
  }

  /** Runs a script under bash (or sh) with the instance's environment. */
  run(script: string, args: string[] = [], extraEnv: Record<string, string> = {}, shell = 'bash'): RunResult {
    const r = spawnSync(shell, [script, ...args], {
      env: { ...this.env, ...extraEnv },
      encoding: 'utf8',
      timeout: 600_000, // the aws CLI takes seconds per call on a busy 2-core machine
    });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts a script in the background (to signal it). */
  start(script: string, args: string[] = [], extraEnv: Record<string, string> = {}) {
    const child = spawn('bash', [script, ...args], { env: { ...this.env, ...extraEnv }, stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const done = new Promise<{ status: number | null; output: string }>((resolve) =>
      child.on('close', (status) => resolve({ status, output: out })),
    );
    return { child, done };
  }

  /** Every shim call so far, as "<name> <args>" lines. */
  calls(prefix?: string): string[] {
    const file = this.env.SHIM_LOG;
    if (!fs.existsSync(file)) return [];
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    return prefix ? lines.filter((l) => l.startsWith(`${prefix} `) || l === prefix) : lines;
  }

  clearCalls(): void {
    fs.rmSync(this.env.SHIM_LOG, { force: true });
  }

  /** Values written to the bootstrap-state SSM parameter, in order. */
  ssmStates(): string[] {
    return this.tsv('ssm-put-parameter.tsv').map(([name, value]) => {
      expect(name).toBe(STATE_PARAM);
      return value;
    });
  }

  /** Tag values the instance put on itself, in order: [resource, key, value]. */
  tags(): string[][] {
    return this.tsv('ec2-create-tags.tsv').map(([resource, json]) => {
      const tags = JSON.parse(json) as { Key: string; Value: string }[];
      const tag = must(tags[0], `the tag of ec2-create-tags.tsv row ${resource}`);
      return [resource, tag.Key, tag.Value];
    });
  }

  /** The rows of a shim's two-column TSV log. */
  private tsv(name: string): [string, string][] {
    const file = path.join(this.shimDir, name);
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [first, second] = l.split('\t');
        if (second === undefined) throw new Error(`${name}: no tab in the line "${l}"`);
        return [must(first, 'the first cell'), second];
      });
  }

  /** path → sha256 of every file under dir (symlinks by target), to prove a re-run changes nothing. */
  snapshot(dir: string = this.root): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
        else if (e.isDirectory()) walk(p);
        else {
          const st = fs.statSync(p);
          out[path.relative(dir, p)] =
            `${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${st.mtimeMs}`;
        }
      }
    };
    walk(dir);
    return out;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
