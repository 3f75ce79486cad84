import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DATASET_MANIFEST_FILE, IDX_FILES } from '../../lib/layout';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { BUCKETS, FakeInstance, INSTANCE_SCRIPTS, SHARED_DATA } from './support/instance';

// stage-dataset.sh for real: downloads through the curl shim (serving real idx files), the bucket through the
// real aws CLI on loopback, checks with gzip/od/md5sum/sha256sum.

const STAGE = path.join(INSTANCE_SCRIPTS, 'stage-dataset.sh');
const FILES = Object.values(IDX_FILES);
const SAMPLE = path.join(SHARED_DATA, 'fashion-mnist-sample');
const OFFICIAL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const MIRROR = 'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/';
jest.setTimeout(120_000);

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');
const decompressedSha = (file: string) => sha256(zlib.gunzipSync(fs.readFileSync(file)));

let s3: LocalS3;
let i: FakeInstance;
beforeAll(async () => {
  s3 = await startLocalS3(Object.values(BUCKETS));
  i = new FakeInstance(s3);
});
afterAll(async () => {
  i.cleanup();
  await s3.stop();
});

const getObject = async (key: string) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: BUCKETS.datasets, Key: key }));
  if (!r.Body) throw new Error(`no body for ${key}`);
  return Buffer.from(await r.Body.transformToByteArray());
};
const exists = async (key: string) =>
  s3.client.send(new HeadObjectCommand({ Bucket: BUCKETS.datasets, Key: key })).then(
    () => true,
    () => false,
  );
const put = (key: string, body: Buffer | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: BUCKETS.datasets, Key: key, Body: body }));
const dest = (name: string) => path.join(i.root, 'datasets', name);

describe('built-in datasets', () => {
  it('the published MD5s are enforced: a recompressed copy (same pixels, other .gz bytes) is refused, nothing cached or staged', async () => {
    // Debian's dataset-fashion-mnist holds the real data, recompressed: the .gz MD5s differ from the published ones.
    const debian = '/usr/share/datasets/fashion-mnist';
    i.writeUrls(
      FILES.flatMap((f) => [
        [OFFICIAL + f, path.join(debian, f)],
        [MIRROR + f, path.join(debian, f)],
      ]),
    );
    const r = i.run(STAGE, ['fashion-mnist', dest('fashion-mnist')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      `rejected ${OFFICIAL}train-images-idx3-ubyte.gz: MD5 ${md5(fs.readFileSync(path.join(debian, FILES[0])))}, published 8d4fb7e6c68d591d4c3dfef9ec88bf0d (corrupt or partial download)`,
    );
    expect(r.stderr).toContain('could not get a good copy of train-images-idx3-ubyte.gz for fashion-mnist');
    expect(await exists(`datasets/fashion-mnist/${DATASET_MANIFEST_FILE}`)).toBe(false);
    expect(await exists('datasets/fashion-mnist/train-images-idx3-ubyte.gz')).toBe(false);
    expect(fs.existsSync(dest('fashion-mnist'))).toBe(false);
  });

  it('the MD5 table holds the published sums of the real label files', () => {
    const script = fs.readFileSync(STAGE, 'utf8');
    for (const f of ['train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      const m = new RegExp(`fashion-mnist/${f}\\) echo ([0-9a-f]{32})`).exec(script);
      expect(m?.[1]).toBe(md5(fs.readFileSync(path.join(SHARED_DATA, 'fashion-mnist', f))));
    }
  });

  it('downloads, MD5-checks, caches in the DatasetBucket with dataset.json last, and stages', async () => {
    // The official server answers 404 for one file, the mirror has it: mirrors are tried in order.
    i.writeUrls(FILES.map((f, n) => [(n === 1 ? MIRROR : OFFICIAL) + f, path.join(SAMPLE, f)]));
    const sums = path.join(i.dir, 'md5s');
    fs.writeFileSync(
      sums,
      FILES.map((f) => `fashion-mnist/${f} ${md5(fs.readFileSync(path.join(SAMPLE, f)))}\n`).join(''),
    );
    i.clearCalls();
    const r = i.run(STAGE, ['fashion-mnist', dest('fashion-mnist')], { BNN_DATASET_MD5S: sums });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const f of FILES) {
      expect(fs.readFileSync(path.join(dest('fashion-mnist'), f))).toEqual(
        fs.readFileSync(path.join(SAMPLE, f)),
      );
      expect(await getObject(`datasets/fashion-mnist/${f}`)).toEqual(fs.readFileSync(path.join(SAMPLE, f)));
    }
    const manifest = JSON.parse(
      (await getObject(`datasets/fashion-mnist/${DATASET_MANIFEST_FILE}`)).toString(),
    );
    for (const f of FILES) expect(manifest.files[f].sha256).toBe(decompressedSha(path.join(SAMPLE, f)));
    expect(manifest.files['train-images-idx3-ubyte.gz'].count).toBe(50);
    expect(fs.readFileSync(path.join(dest('fashion-mnist'), 'classes.txt'), 'utf8').split('\n')[9]).toBe(
      'Ankle boot',
    );
    // Upload order: the manifest is the last object written.
    const uploads = i.calls('aws').filter((l) => / s3 cp --only-show-errors \/\S+ s3:\/\/ds\//.test(l));
    expect(uploads).toHaveLength(6);
    expect(uploads[5]).toContain(`s3://ds/datasets/fashion-mnist/${DATASET_MANIFEST_FILE}`);
  });

  it('once cached, it is read from the bucket (no download)', () => {
    i.clearCalls();
    fs.rmSync(dest('fashion-mnist'), { recursive: true });
    const r = i.run(STAGE, ['fashion-mnist', dest('fashion-mnist')]);
    expect(r.status).toBe(0);
    expect(i.calls('curl')).toEqual([]);
    expect(fs.readFileSync(path.join(dest('fashion-mnist'), FILES[2]))).toEqual(
      fs.readFileSync(path.join(SAMPLE, FILES[2])),
    );
  });

  it('a corrupted cached file is refused and replaced from the official source', async () => {
    const good = fs.readFileSync(path.join(SAMPLE, FILES[2]));
    await put(`datasets/fashion-mnist/${FILES[2]}`, good.subarray(0, good.length - 100)); // partial upload
    const sums = path.join(i.dir, 'md5s');
    i.clearCalls();
    const r = i.run(STAGE, ['fashion-mnist', dest('fashion-mnist')], { BNN_DATASET_MD5S: sums });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      `refusing the cached copy: s3://ds/datasets/fashion-mnist/${FILES[2]} is corrupt: not a complete gzip file`,
    );
    expect(i.calls('curl').length).toBeGreaterThanOrEqual(4);
    expect(await getObject(`datasets/fashion-mnist/${FILES[2]}`)).toEqual(good);
  });
});

describe('a user dataset uploaded under datasets/<name>/', () => {
  const name = 'my-shoes';
  beforeAll(async () => {
    for (const f of FILES) await put(`datasets/${name}/${f}`, fs.readFileSync(path.join(SAMPLE, f)));
    // The manifest shape of `bnn-pynq dataset import` (a list of files with the decompressed SHA-256).
    const manifest = {
      name,
      files: FILES.map((f) => ({ name: f, sha256: decompressedSha(path.join(SAMPLE, f)) })),
    };
    await put(`datasets/${name}/classes.txt`, 'left\nright\n');
    await put(`datasets/${name}/${DATASET_MANIFEST_FILE}`, JSON.stringify(manifest));
  });

  it('is verified against its dataset.json and staged', () => {
    const r = i.run(STAGE, [name, dest(name)]);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(dest(name)).sort()).toEqual(
      [...FILES, 'classes.txt', DATASET_MANIFEST_FILE].sort(),
    );
  });

  it('a file whose content differs from dataset.json is refused; the staged copy stays as it was', async () => {
    const before = fs.readFileSync(path.join(dest(name), FILES[0]));
    // A valid gzip of a valid idx file, but not the one the manifest describes (the test set's images).
    const other = zlib.gunzipSync(fs.readFileSync(path.join(SAMPLE, FILES[2])));
    await put(`datasets/${name}/${FILES[0]}`, zlib.gzipSync(other));
    const r = i.run(STAGE, [name, dest(name)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `dataset '${name}' refused: s3://ds/datasets/${name}/${FILES[0]} is corrupt or partial: SHA-256 of its decompressed bytes is ${sha256(other)}, dataset.json says ${decompressedSha(path.join(SAMPLE, FILES[0]))}`,
    );
    expect(fs.readFileSync(path.join(dest(name), FILES[0]))).toEqual(before);
    expect(fs.readdirSync(path.dirname(dest(name))).filter((f) => f.startsWith('.'))).toEqual([]); // no leftovers
  });

  it('a truncated idx file (header count larger than the data) is refused', async () => {
    const raw = zlib.gunzipSync(fs.readFileSync(path.join(SAMPLE, FILES[0])));
    await put(`datasets/${name}/${FILES[0]}`, zlib.gzipSync(raw.subarray(0, raw.length - 784)));
    const r = i.run(STAGE, [name, path.join(i.root, 'datasets', 'fresh')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `s3://ds/datasets/${name}/${FILES[0]} is corrupt: header says 50 images but the file holds ${raw.length - 784} bytes (truncated?)`,
    );
    expect(fs.existsSync(path.join(i.root, 'datasets', 'fresh'))).toBe(false);
  });

  it('a dataset that was never uploaded is a clear error', () => {
    const r = i.run(STAGE, ['nope', dest('nope')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      "dataset 'nope' not found: s3://ds/datasets/nope/dataset.json does not exist.",
    );
  });
});
