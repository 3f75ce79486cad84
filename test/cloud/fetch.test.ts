import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runFetch } from '../../lib/cli/commands/fetch';
import { at, must } from '../../lib/defined';
import { buildManifest } from '../../lib/manifest';
import { runCli, SHARED_DATA } from '../support/cli';
import { type LocalS3, newLocalS3Client, startLocalS3 } from '../support/s3-server';
import { mockedCloud } from './support';

// fetch against a real S3-compatible server on loopback, with BNN-PYNQ's own shipped MNIST param folder.
const BUCKET = 'artifacts-fetch';
const SHIPPED = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
const RUN = '20261126-061500-mnist-c0de';
let s3: LocalS3;
let files: Map<string, Buffer>;
/** Every GetObject key the fetch under test asked for. */
let gets: string[] = [];

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  files = new Map(readdirSync(SHIPPED).map((f) => [f, readFileSync(path.join(SHIPPED, f))]));
  await publish('params/mnist/lfcW1A1/', files);
});
afterAll(() => s3.stop());

const putFile = (key: string, body: Buffer) =>
  s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const putManifest = (prefix: string, content: Map<string, Buffer>, meta = { dataset: 'mnist', runId: RUN }) =>
  putFile(
    `${prefix}manifest.json`,
    Buffer.from(JSON.stringify(buildManifest(content, { ...meta, network: 'lfcW1A1', accuracy: 98.4 }))),
  );

async function publish(
  prefix: string,
  content: Map<string, Buffer>,
  manifestFor: { dataset: string; runId: string; network?: string } = { dataset: 'mnist', runId: RUN },
) {
  for (const [name, bytes] of content) {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${name}`, Body: bytes }));
  }
  const manifest = buildManifest(content, { network: 'lfcW1A1', ...manifestFor, accuracy: 98.4 });
  await s3.client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest) }),
  );
}

/** A CloudEnv whose S3 client records its GetObject keys. */
function env() {
  const client = newLocalS3Client(s3.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') gets.push((args.input as { Key: string }).Key);
      return next(args);
    },
    { step: 'initialize', name: 'countGets' },
  );
  gets = [];
  return mockedCloud({ s3: client, discovery: null });
}

/** SHA-256 of every file under a folder (relative path → hash), to prove a folder did not change. */
function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else out[`${rel}${e.name}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

const newOut = () => mkdtempSync(path.join(tmpdir(), 'fetch-out-'));

test('first fetch: all 289 files, byte-identical, plus the manifest; then the board copy command', async () => {
  const out = newOut();
  // What an interrupted fetch an hour ago left behind is cleaned up; a fresh one (another fetch running) is kept.
  const stale = path.join(out, 'mnist', '.lfcW1A1.fetch-old');
  const fresh = path.join(out, 'mnist', '.lfcW1A1.fetch-new');
  mkdirSync(stale, { recursive: true });
  mkdirSync(fresh, { recursive: true });
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(stale, hourAgo, hourAgo);
  const { env: e, term } = env();
  const r = at(await runFetch(e, { out, bucket: BUCKET }), 0, 'the fetched param folders');
  expect(r.added).toHaveLength(289);
  expect(r.changed).toEqual([]);
  expect(gets).toHaveLength(290); // manifest + 289 files
  const folder = path.join(out, 'mnist', 'lfcW1A1');
  for (const [name, bytes] of files) expect(readFileSync(path.join(folder, name)).equals(bytes)).toBe(true);
  expect(readdirSync(folder).sort()).toEqual([...files.keys(), 'manifest.json'].sort());
  expect(readdirSync(path.join(out, 'mnist')).sort()).toEqual(['.lfcW1A1.fetch-new', 'lfcW1A1']); // no temp of ours left
  expect(term.stdout).toContain(
    `fetched published mnist/lfcW1A1 from run ${RUN}, board accuracy 98.40 % → ${folder}`,
  );
  expect(term.stdout).toContain('289 added, 0 changed, 0 removed, 0 unchanged');
  expect(term.stdout).toContain(
    `scp -r ${path.join(out, 'mnist')} xilinx@<board>:/usr/local/lib/python3.6/dist-packages/bnn/params/`,
  );
  expect(term.stdout).toContain(`bnn-pynq board push <board> --params ${out} --dataset mnist`);
});

test('only changed files are downloaded: unchanged folder, a republished file, a locally damaged file, a stray file', async () => {
  const out = newOut();
  await runFetch(env().env, { out, bucket: BUCKET, dataset: 'mnist' });
  const folder = path.join(out, 'mnist', 'lfcW1A1');

  const again = env();
  const same = at(
    await runFetch(again.env, { out, bucket: BUCKET, dataset: 'mnist' }),
    0,
    'the fetched param folders',
  );
  expect(gets).toEqual(['params/mnist/lfcW1A1/manifest.json']);
  expect(same.unchanged).toHaveLength(289);
  expect(again.term.stdout).toContain('up to date: all 289 files match the manifest, nothing downloaded');

  // The cloud republishes with one threshold file changed; locally one weight file got damaged and a stray file appeared.
  const republished = new Map(files);
  const thres = Buffer.from(must(files.get('3-0-thres.bin'), 'the 3-0-thres.bin file'));
  thres.writeUInt8(thres.readUInt8(0) ^ 1, 0);
  republished.set('3-0-thres.bin', thres);
  await putFile('params/mnist/lfcW1A1/3-0-thres.bin', thres);
  await putManifest('params/mnist/lfcW1A1/', republished);
  writeFileSync(path.join(folder, '1-0-weights.bin'), 'damaged');
  writeFileSync(path.join(folder, '9-9-weights.bin'), 'stray');

  // A file fetch never writes (the user's own notes) makes it refuse to replace the folder: nothing changes.
  writeFileSync(path.join(folder, 'notes.txt'), 'mine');
  const guarded = treeHash(out);
  await expect(runFetch(env().env, { out, bucket: BUCKET, dataset: 'mnist' })).rejects.toThrow(
    /^refusing to replace .*mnist\/lfcW1A1: it holds .*lfcW1A1\/notes\.txt, which is not part of a param folder this command writes; move that away or choose another --out$/,
  );
  expect(treeHash(out)).toEqual(guarded);
  rmSync(path.join(folder, 'notes.txt'));

  const third = env();
  const r = at(
    await runFetch(third.env, { out, bucket: BUCKET, dataset: 'mnist' }),
    0,
    'the fetched param folders',
  );
  expect(gets.sort()).toEqual(
    [
      'params/mnist/lfcW1A1/manifest.json',
      'params/mnist/lfcW1A1/3-0-thres.bin',
      'params/mnist/lfcW1A1/1-0-weights.bin',
    ].sort(),
  );
  expect(r.changed).toEqual(['1-0-weights.bin', '3-0-thres.bin']);
  expect(r.removed).toEqual(['9-9-weights.bin']);
  expect(r.unchanged).toHaveLength(287);
  expect(readFileSync(path.join(folder, '3-0-thres.bin')).equals(thres)).toBe(true);
  expect(
    readFileSync(path.join(folder, '1-0-weights.bin')).equals(
      must(files.get('1-0-weights.bin'), '1-0-weights.bin'),
    ),
  ).toBe(true);
  expect(existsSync(path.join(folder, '9-9-weights.bin'))).toBe(false);
  expect(third.term.stdout).toContain('  ~ 1-0-weights.bin\n  ~ 3-0-thres.bin\n  - 9-9-weights.bin\n');
  const size = (files.get('1-0-weights.bin')?.length ?? 0) + thres.length;
  expect(r.bytesDownloaded).toBe(size); // 4096 + 32
  expect(third.term.stdout).toContain('0 added, 2 changed, 1 removed, 287 unchanged (4.0 KiB downloaded)');

  // restore the published folder for the other tests
  await putFile('params/mnist/lfcW1A1/3-0-thres.bin', must(files.get('3-0-thres.bin'), '3-0-thres.bin'));
  await putManifest('params/mnist/lfcW1A1/', files);
});

test('a file that does not match the manifest is refused, and the local folder stays exactly as it was', async () => {
  const out = newOut();
  await runFetch(env().env, { out, bucket: BUCKET });
  const before = treeHash(out);
  // Someone (or a half-finished publish) replaced a file without its manifest.
  const bad = Buffer.from(must(files.get('2-5-weights.bin'), 'the 2-5-weights.bin file'));
  bad.writeUInt8(bad.readUInt8(100) ^ 0xff, 100);
  await s3.client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: 'params/mnist/lfcW1A1/2-5-weights.bin', Body: bad }),
  );
  // and the local copy of that file is stale, so fetch must download it
  writeFileSync(path.join(out, 'mnist', 'lfcW1A1', '2-5-weights.bin'), 'stale');
  const staleTree = treeHash(out);
  expect(staleTree).not.toEqual(before);
  await expect(runFetch(env().env, { out, bucket: BUCKET })).rejects.toThrow(
    /^s3:\/\/artifacts-fetch\/params\/mnist\/lfcW1A1\/2-5-weights\.bin does not match its manifest \(4096 bytes, SHA-256 [0-9a-f]{12}…; manifest: 4096 bytes, [0-9a-f]{12}…\): the folder is being republished or is damaged; nothing was changed locally/,
  );
  expect(treeHash(out)).toEqual(staleTree);
  expect(readdirSync(path.join(out, 'mnist'))).toEqual(['lfcW1A1']);
  await putFile(
    'params/mnist/lfcW1A1/2-5-weights.bin',
    must(files.get('2-5-weights.bin'), '2-5-weights.bin'),
  );
});

test('a failure half-way (a listed file missing in S3) leaves nothing behind', async () => {
  const out = newOut();
  await s3.client.send(
    new DeleteObjectCommand({ Bucket: BUCKET, Key: 'params/mnist/lfcW1A1/3-15-weights.bin' }),
  );
  try {
    await expect(runFetch(env().env, { out, bucket: BUCKET })).rejects.toThrow(
      /^s3:GetObject \(s3:\/\/artifacts-fetch\/params\/mnist\/lfcW1A1\/3-15-weights\.bin\) failed: NoSuchKey/,
    );
    // Nothing at all: the folders made for the output are removed with its temporary.
    expect(readdirSync(out)).toEqual([]);
  } finally {
    await putFile(
      'params/mnist/lfcW1A1/3-15-weights.bin',
      must(files.get('3-15-weights.bin'), '3-15-weights.bin'),
    );
  }
});

test("refusals: a manifest for another dataset, no manifest, a run without params; a run's own params", async () => {
  const out = newOut();
  await publish('params/fashion-mnist/lfcW1A1/', new Map([['classes.txt', Buffer.from('a\nb')]]), {
    dataset: 'mnist',
    runId: RUN,
  });
  await expect(runFetch(env().env, { out, bucket: BUCKET, dataset: 'fashion-mnist' })).rejects.toThrow(
    'params/fashion-mnist/lfcW1A1/manifest.json is for mnist/lfcW1A1, not fashion-mnist/lfcW1A1: refusing to fetch; re-run the conversion',
  );
  await expect(runFetch(env().env, { out, bucket: BUCKET, dataset: 'cifar' })).rejects.toThrow(
    'no param folder for published params (s3://artifacts-fetch/params/cifar/lfcW1A1/manifest.json does not exist): convert a finished run first with `bnn-pynq convert-run <runId>`',
  );
  const other = '20261126-070000-mnist-beef';
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `runs/${other}/state.json`,
      Body: JSON.stringify({ state: 'running' }),
    }),
  );
  await expect(runFetch(env().env, { out, bucket: BUCKET, run: other })).rejects.toThrow(
    `run ${other} has no params yet (state: running): convert it with \`bnn-pynq convert-run ${other}\``,
  );
  expect(readdirSync(out)).toEqual([]);

  const small = new Map([...files].slice(0, 3));
  await publish(`runs/${RUN}/params/mnist/lfcW1A1/`, small);
  const { env: e, term } = env();
  const r = at(await runFetch(e, { out, bucket: BUCKET, run: RUN }), 0, 'the fetched param folders');
  expect(r.added).toEqual([...small.keys()].sort());
  expect(term.stdout).toContain(`fetched mnist/lfcW1A1 from run ${RUN}`);
});

test('`bnn-pynq fetch --bucket` end to end in a child process (no stack lookup)', async () => {
  const out = newOut();
  const res = await runCli(['fetch', '--bucket', BUCKET, '--dataset', 'mnist', '--out', out], {
    env: s3.env,
  });
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
  expect(res.stdout).toContain('289 added, 0 changed, 0 removed, 0 unchanged');
  expect(readdirSync(path.join(out, 'mnist', 'lfcW1A1'))).toHaveLength(290);
});

test('every overlay: a cnvW1A1 folder published beside it is fetched into <out>/cifar10/cnvW1A1/', async () => {
  const cnvShipped = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'cifar10', 'cnvW1A1');
  const cnv = new Map(readdirSync(cnvShipped).map((f) => [f, readFileSync(path.join(cnvShipped, f))]));
  await publish('params/cifar10/cnvW1A1/', cnv, { dataset: 'cifar10', runId: RUN, network: 'cnvW1A1' });
  const out = newOut();
  const { env: e, term } = env();
  const results = await runFetch(e, { out, bucket: BUCKET, dataset: 'cifar10' });
  expect(results.map((r) => `${r.manifest.dataset}/${r.manifest.network}`)).toEqual(['cifar10/cnvW1A1']);
  const folder = path.join(out, 'cifar10', 'cnvW1A1');
  expect(readdirSync(folder).sort()).toEqual([...cnv.keys(), 'manifest.json'].sort());
  for (const [name, bytes] of cnv) expect(readFileSync(path.join(folder, name)).equals(bytes)).toBe(true);
  expect(term.stdout).toContain(`fetched published cifar10/cnvW1A1 from run ${RUN}`);
  await Promise.all(
    [...cnv.keys(), 'manifest.json'].map((f) =>
      s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `params/cifar10/cnvW1A1/${f}` })),
    ),
  );
});
