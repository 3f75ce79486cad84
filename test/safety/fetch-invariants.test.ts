import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildManifest } from '../../lib/manifest';
import { SHARED_DATA } from '../support/cli';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { changes, failureProblems, runBinary, snapshot } from './harness';

/**
 * The invariant harness for `bnn-pynq fetch` (issue 14), with the real binary: every class of bad output
 * the other commands are checked for. The local rules (a file in the --out path, an unwritable or
 * read-only --out, the current folder inside a param folder fetch would replace) are checked before any
 * network call, so those cases run with NO credentials and an S3 endpoint nothing listens on: the one
 * line must be the local one. The rest (a folder holding a user's file, a link in place of the folder, a
 * full disk, a closed pipe, leftover temporaries) run against a real S3-compatible server on loopback
 * holding BNN-PYNQ's shipped MNIST param folder. Every case: exit ≠ 0, one `error:` line, no stack trace,
 * and nothing in the world folder changed (a success: nothing outside its declared output).
 */
jest.setTimeout(300_000);

const BUCKET = 'artifacts-safety';
const SHIPPED = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
const NOBODY = 65534;
let s3: LocalS3;
let w: string;

/** No credentials anywhere, and S3 on a port nothing listens on (the discard port). */
const OFFLINE = {
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  BNN_PYNQ_S3_ENDPOINT: 'http://127.0.0.1:9',
};

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  const files = new Map(readdirSync(SHIPPED).map((f) => [f, readFileSync(path.join(SHIPPED, f))]));
  for (const [name, bytes] of files)
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `params/mnist/lfcW1A1/${name}`, Body: bytes }),
    );
  const manifest = buildManifest(files, {
    dataset: 'mnist',
    network: 'lfcW1A1',
    runId: '20261126-061500-mnist-c0de',
    accuracy: 98.4,
  });
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'params/mnist/lfcW1A1/manifest.json',
      Body: JSON.stringify(manifest),
    }),
  );
  w = mkdtempSync(path.join(os.tmpdir(), 'bnn-safety-fetch-'));
  chmodSync(w, 0o755);
  writeFileSync(path.join(w, 'notes.txt'), 'my notes\n');
  mkdirSync(path.join(w, 'locked'));
  chmodSync(path.join(w, 'locked'), 0o755); // root's: nobody may not write in it
  // A param folder the user already fetched, to stand in.
  const first = await runBinary(['fetch', '--bucket', BUCKET, '--out', 'params'], { cwd: w, env: s3.env });
  if (first.status !== 0) throw new Error(`fixture fetch: ${first.stderr}`);
});

afterAll(async () => {
  rmSync(w, { recursive: true, force: true });
  await s3.stop();
});

interface Case {
  name: string;
  setup?: (dir: string) => void;
  args: (dir: string) => string[];
  /** Where the command runs (default: the world folder). */
  cwd?: (dir: string) => string;
  /** Without credentials or a reachable S3: the refusal must come before any network call. */
  offline?: boolean;
  uid?: number;
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: '--out is a file (ENOTDIR)',
    offline: true,
    args: () => ['fetch', '--out', 'notes.txt'],
    message: /cannot write --out: notes\.txt is a file, not a folder \(ENOTDIR\)/,
  },
  {
    name: '--out under a file (ENOTDIR)',
    offline: true,
    args: () => ['fetch', '--out', 'notes.txt/params'],
    message: /cannot write --out: .*\/notes\.txt is a file, not a folder \(ENOTDIR\)/,
  },
  {
    name: '--out whose param folder is the current folder',
    offline: true,
    cwd: () => path.join(w, 'params', 'mnist', 'lfcW1A1'),
    args: () => ['fetch', '--out', '../..'],
    message: /--out \.\.\/\.\.\/mnist\/lfcW1A1 is the current folder/,
  },
  {
    name: '--out whose param folder holds the current folder (through a symlink alias)',
    offline: true,
    setup: (d) => {
      mkdirSync(path.join(d, 'p', 'mnist', 'lfcW1A1', 'deeper'), { recursive: true });
      symlinkSync('p', path.join(d, 'alias'));
    },
    cwd: (d) => path.join(d, 'p', 'mnist', 'lfcW1A1', 'deeper'),
    args: (d) => ['fetch', '--dataset', 'mnist', '--out', `${d}/alias`],
    message: /--out .*alias\/mnist\/lfcW1A1 is a parent of the current folder/,
  },
  {
    name: '--out not writable (EACCES, an unprivileged user)',
    offline: true,
    uid: NOBODY,
    args: () => ['fetch', '--out', 'locked/params'],
    message: /cannot write --out: .*\/locked: permission denied \(EACCES\)/,
  },
  {
    name: 'the param folder holds a file fetch did not write (replace refused)',
    setup: (d) => {
      mkdirSync(path.join(d, 'p', 'mnist'), { recursive: true });
      for (const f of ['classes.txt', 'notes.txt']) {
        mkdirSync(path.join(d, 'p', 'mnist', 'lfcW1A1'), { recursive: true });
        writeFileSync(path.join(d, 'p', 'mnist', 'lfcW1A1', f), 'mine\n');
      }
    },
    args: (d) => ['fetch', '--bucket', BUCKET, '--out', `${d}/p`],
    message:
      /refusing to replace .*p\/mnist\/lfcW1A1: it holds .*notes\.txt, which is not part of a param folder/,
  },
  {
    name: 'the param folder holds a sub-folder (replace refused)',
    setup: (d) => {
      mkdirSync(path.join(d, 'p', 'mnist', 'lfcW1A1', 'photos'), { recursive: true });
      writeFileSync(path.join(d, 'p', 'mnist', 'lfcW1A1', 'photos', 'cat.png'), 'cat');
    },
    args: (d) => ['fetch', '--bucket', BUCKET, '--out', `${d}/p`],
    message: /refusing to replace .*lfcW1A1: it holds .*photos\//,
  },
  {
    name: 'a symbolic link where the param folder should be',
    setup: (d) => {
      mkdirSync(path.join(d, 'p', 'mnist'), { recursive: true });
      mkdirSync(path.join(d, 'elsewhere'));
      writeFileSync(path.join(d, 'elsewhere', 'mine.txt'), 'mine\n');
      symlinkSync('../../elsewhere', path.join(d, 'p', 'mnist', 'lfcW1A1'));
    },
    args: (d) => ['fetch', '--bucket', BUCKET, '--out', `${d}/p`],
    message: /lfcW1A1 exists and is a symbolic link, not a param folder/,
  },
  {
    name: 'the param folder is not writable (EACCES, an unprivileged user)',
    uid: NOBODY,
    args: () => ['fetch', '--bucket', BUCKET, '--out', 'params'],
    message: /cannot write --out: .*params.*: permission denied \(EACCES\)/,
  },
];

test(`fetch × every class of bad output (${CASES.length} cases, the real binary)`, async () => {
  const broken: string[] = [];
  for (const [i, c] of CASES.entries()) {
    const dir = path.join(w, `case-${i}`);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    c.setup?.(dir);
    const before = snapshot(w);
    const r = await runBinary(c.args(dir), {
      cwd: c.cwd?.(dir) ?? w,
      env: c.offline ? OFFLINE : s3.env,
      uid: c.uid,
      gid: c.uid,
    });
    const problems = failureProblems(r, c.message);
    const changed = changes(before, snapshot(w));
    if (changed.length > 0) problems.push(`changed: ${changed.slice(0, 5).join(', ')}`);
    if (problems.length)
      broken.push(`${c.name}: ${problems.join('; ')} (stderr: ${r.stderr.trim().slice(0, 300)})`);
  }
  expect(broken).toEqual([]);
});

test('a successful fetch changes nothing but <out>/<dataset>/<network>/, and removes temporaries a crash left', async () => {
  const out = path.join(w, 'ok');
  mkdirSync(path.join(out, 'mnist'), { recursive: true });
  // What kill -9 during a write leaves: a temporary of a dead process, and an old-style fetch temporary.
  const stale = path.join(out, 'mnist', '.lfcW1A1.bnn-tmp-999999-deadbeef');
  mkdirSync(stale);
  writeFileSync(path.join(stale, '0-0-weights.bin'), 'half');
  const oldStyle = path.join(out, 'mnist', '.lfcW1A1.fetch-abc123');
  mkdirSync(oldStyle);
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(oldStyle, hourAgo, hourAgo);
  const before = snapshot(w);
  for (let i = 0; i < 2; i++) {
    const r = await runBinary(['fetch', '--bucket', BUCKET, '--out', 'ok'], { cwd: w, env: s3.env });
    expect([r.status, r.stderr]).toEqual([0, '']);
  }
  const outside = changes(before, snapshot(w)).filter(
    (c) => !/^[+~-] ok\/mnist\/(lfcW1A1|\.lfcW1A1\.)/.test(c) && c !== '~ ok/mnist',
  );
  expect(outside).toEqual([]);
  expect(readdirSync(path.join(out, 'mnist'))).toEqual(['lfcW1A1']);
  expect(readFileSync(path.join(out, 'mnist', 'lfcW1A1', '0-0-weights.bin'))).toEqual(
    readFileSync(path.join(SHIPPED, '0-0-weights.bin')),
  );
});

describe('fetch with a full or read-only disk, and into a closed pipe', () => {
  const unshare = (script: string, env: Record<string, string>) =>
    runBinary([], { cwd: w, shell: script, wrap: ['unshare', '-m', '--propagation', 'private'], env });
  const read = (d: string, f: string) => readFileSync(path.join(d, f), 'utf8');

  test('ENOSPC: the previous param folder stays exactly as it was, no temporary; EROFS: one line without credentials', async () => {
    const d = path.join(w, 'disk');
    mkdirSync(path.join(d, 'mnt'), { recursive: true });
    // 2 MiB: one param folder (289 files, ~1.2 MB in tmpfs pages) fits, a second copy beside it does not.
    const r = await unshare(
      `
      mount -t tmpfs -o size=2m tmpfs ${d}/mnt
      $BNN fetch --bucket ${BUCKET} --out ${d}/mnt/params > /dev/null
      sha256sum ${d}/mnt/params/mnist/lfcW1A1/* | sha256sum > ${d}/first.sum
      set +e
      $BNN fetch --bucket ${BUCKET} --out ${d}/mnt/params 2> ${d}/enospc.err > /dev/null; echo "enospc rc=$?" >> ${d}/rc.txt
      sha256sum ${d}/mnt/params/mnist/lfcW1A1/* | sha256sum > ${d}/second.sum
      (cd ${d}/mnt && find . | sort) > ${d}/after.txt
      mount -o remount,ro ${d}/mnt
      env AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent BNN_PYNQ_S3_ENDPOINT=http://127.0.0.1:9 \\
        AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= $BNN fetch --out ${d}/mnt/other 2> ${d}/erofs.err; echo "erofs rc=$?" >> ${d}/rc.txt
    `,
      s3.env,
    );
    expect(r.stderr).toBe('');
    expect(read(d, 'rc.txt')).toBe('enospc rc=2\nerofs rc=2\n');
    expect(
      failureProblems(
        { status: 2, stdout: '', stderr: read(d, 'enospc.err') },
        /cannot write --out: .*mnt\/params\/mnist\/lfcW1A1: no space left on the device \(ENOSPC\)/,
      ),
    ).toEqual([]);
    expect(
      failureProblems(
        { status: 2, stdout: '', stderr: read(d, 'erofs.err') },
        /cannot write --out: .*\/mnt: read-only file system \(EROFS\); choose a writable location/,
      ),
    ).toEqual([]);
    expect(read(d, 'second.sum')).toBe(read(d, 'first.sum'));
    expect(
      read(d, 'after.txt')
        .trim()
        .split('\n')
        .filter((l) => !/lfcW1A1\/.+/.test(l)),
    ).toEqual(['.', './params', './params/mnist', './params/mnist/lfcW1A1']);
  });

  test('EPIPE: `fetch | head -c 10` ends quietly, exit 0, with the folder in place', async () => {
    const d = path.join(w, 'pipe');
    mkdirSync(d);
    const r = await runBinary([], {
      cwd: w,
      env: s3.env,
      shell: `set -o pipefail; $BNN fetch --bucket ${BUCKET} --out ${d} | head -c 10; echo " rc=$?"`,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('fetched pu rc=0\n');
    expect(readdirSync(path.join(d, 'mnist', 'lfcW1A1'))).toHaveLength(290);
  });
});
