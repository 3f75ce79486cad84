import { spawnSync } from 'node:child_process';
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
      `rejected ${OFFICIAL}train-images-idx3-ubyte.gz: MD5 ${md5(fs.readFileSync(path.join(debian, IDX_FILES.trainImages)))}, published 8d4fb7e6c68d591d4c3dfef9ec88bf0d (corrupt or partial download)`,
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
    expect(fs.readFileSync(path.join(dest('fashion-mnist'), IDX_FILES.testImages))).toEqual(
      fs.readFileSync(path.join(SAMPLE, IDX_FILES.testImages)),
    );
  });

  it('a corrupted cached file is refused and replaced from the official source', async () => {
    const good = fs.readFileSync(path.join(SAMPLE, IDX_FILES.testImages));
    await put(`datasets/fashion-mnist/${IDX_FILES.testImages}`, good.subarray(0, good.length - 100)); // partial upload
    const sums = path.join(i.dir, 'md5s');
    i.clearCalls();
    const r = i.run(STAGE, ['fashion-mnist', dest('fashion-mnist')], { BNN_DATASET_MD5S: sums });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      `refusing the cached copy: s3://ds/datasets/fashion-mnist/${IDX_FILES.testImages} is corrupt: not a complete gzip file`,
    );
    expect(i.calls('curl').length).toBeGreaterThanOrEqual(4);
    expect(await getObject(`datasets/fashion-mnist/${IDX_FILES.testImages}`)).toEqual(good);
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
    const before = fs.readFileSync(path.join(dest(name), IDX_FILES.trainImages));
    // A valid gzip of a valid idx file, but not the one the manifest describes (the test set's images).
    const other = zlib.gunzipSync(fs.readFileSync(path.join(SAMPLE, IDX_FILES.testImages)));
    await put(`datasets/${name}/${IDX_FILES.trainImages}`, zlib.gzipSync(other));
    const r = i.run(STAGE, [name, dest(name)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `dataset '${name}' refused: s3://ds/datasets/${name}/${IDX_FILES.trainImages} is corrupt or partial: SHA-256 of its decompressed bytes is ${sha256(other)}, dataset.json says ${decompressedSha(path.join(SAMPLE, IDX_FILES.trainImages))}`,
    );
    expect(fs.readFileSync(path.join(dest(name), IDX_FILES.trainImages))).toEqual(before);
    expect(fs.readdirSync(path.dirname(dest(name))).filter((f) => f.startsWith('.'))).toEqual([]); // no leftovers
  });

  it('a truncated idx file (header count larger than the data) is refused', async () => {
    const raw = zlib.gunzipSync(fs.readFileSync(path.join(SAMPLE, IDX_FILES.trainImages)));
    await put(`datasets/${name}/${IDX_FILES.trainImages}`, zlib.gzipSync(raw.subarray(0, raw.length - 784)));
    const r = i.run(STAGE, [name, path.join(i.root, 'datasets', 'fresh')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `s3://ds/datasets/${name}/${IDX_FILES.trainImages} is corrupt: header says 50 images but the file holds ${raw.length - 784} bytes (truncated?)`,
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

describe('CIFAR-10 (the official binary archive)', () => {
  const URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
  const BINS = [1, 2, 3, 4, 5].map((n) => `data_batch_${n}.bin`).concat('test_batch.bin');
  const RECORDS = 4; // per file here; the official archive has 10,000
  const records = (seed: number) => {
    const b = Buffer.alloc(RECORDS * 3073);
    for (let k = 0; k < b.length; k++) b[k] = (k * 31 + seed * 7) % 256;
    for (let r = 0; r < RECORDS; r++) b[r * 3073] = (r + seed) % 10; // label bytes
    return b;
  };
  let archive: string;
  let tree: string;
  const env = (md5s?: string): Record<string, string> => ({
    BNN_CIFAR10_RECORDS: String(RECORDS),
    ...(md5s ? { BNN_DATASET_MD5S: md5s } : {}),
  });
  const md5File = (file: string) => {
    const sums = path.join(i.dir, 'cifar-md5s');
    fs.writeFileSync(sums, `cifar10/cifar-10-binary.tar.gz ${md5(fs.readFileSync(file))}\n`);
    return sums;
  };

  beforeAll(() => {
    // An archive in the official layout: one cifar-10-batches-bin/ folder with the six record files, the class
    // names and a readme.
    tree = path.join(i.dir, 'cifar-tree');
    const inner = path.join(tree, 'cifar-10-batches-bin');
    fs.mkdirSync(inner, { recursive: true });
    BINS.forEach((f, n) => {
      fs.writeFileSync(path.join(inner, f), records(n));
    });
    fs.writeFileSync(
      path.join(inner, 'batches.meta.txt'),
      'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n',
    );
    fs.writeFileSync(path.join(inner, 'readme.html'), '<html></html>\n');
    archive = path.join(i.dir, 'cifar-10-binary.tar.gz');
    const tar = spawnSync('tar', ['-czf', archive, '-C', tree, 'cifar-10-batches-bin'], { encoding: 'utf8' });
    expect(tar.status).toBe(0);
  });

  it('the published MD5 of the binary version is the one enforced by default', () => {
    expect(fs.readFileSync(STAGE, 'utf8')).toContain(
      'cifar10/cifar-10-binary.tar.gz) echo c32a1d4ab5d03f1284b67883e8d87530',
    );
  });

  it('a corrupted or partial archive is refused: nothing cached, nothing staged', async () => {
    const good = fs.readFileSync(archive);
    const flipped = Buffer.from(good);
    flipped.writeUInt8(flipped.readUInt8(flipped.length >> 1) ^ 0xff, flipped.length >> 1);
    const bad = path.join(i.dir, 'bad.tar.gz');
    const partial = path.join(i.dir, 'partial.tar.gz');
    fs.writeFileSync(bad, flipped);
    fs.writeFileSync(partial, good.subarray(0, good.length - 200));
    for (const [file, what] of [
      [bad, 'corrupted'],
      [partial, 'partial'],
    ] as const) {
      i.writeUrls([[URL, file]]);
      // the MD5 expected is the good archive's: the check is of the content, not of the name
      const r = i.run(STAGE, ['cifar10', dest('cifar10')], env(md5File(archive)));
      expect({ what, status: r.status }).toEqual({ what, status: 1 });
      expect(r.stdout).toContain(
        `rejected ${URL}: MD5 ${md5(fs.readFileSync(file))}, published ${md5(good)} (corrupt or partial download)`,
      );
      expect(r.stderr).toContain('could not get a good copy of cifar-10-binary.tar.gz for cifar10');
    }
    expect(await exists(`datasets/cifar10/${DATASET_MANIFEST_FILE}`)).toBe(false);
    expect(await exists('datasets/cifar10/test_batch.bin')).toBe(false);
    expect(fs.existsSync(dest('cifar10'))).toBe(false);
  });

  it('an archive with the expected MD5 but a cut record file is refused too', () => {
    const inner = path.join(tree, 'cifar-10-batches-bin');
    const cut = path.join(i.dir, 'cut.tar.gz');
    const test = fs.readFileSync(path.join(inner, 'test_batch.bin'));
    fs.writeFileSync(path.join(inner, 'test_batch.bin'), test.subarray(0, test.length - 1000));
    spawnSync('tar', ['-czf', cut, '-C', tree, 'cifar-10-batches-bin']);
    fs.writeFileSync(path.join(inner, 'test_batch.bin'), test);
    i.writeUrls([[URL, cut]]);
    const r = i.run(STAGE, ['cifar10', dest('cifar10')], env(md5File(cut)));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${URL}: test_batch.bin: ${test.length - 1000} bytes is not a whole number of 3073-byte CIFAR-10 records (truncated?)`,
    );
    expect(fs.existsSync(dest('cifar10'))).toBe(false);
  });

  it('downloads, MD5-checks, unpacks, caches the records in the bucket with dataset.json last, and stages', async () => {
    i.writeUrls([[URL, archive]]);
    i.clearCalls();
    const r = i.run(STAGE, ['cifar10', dest('cifar10')], env(md5File(archive)));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const inner = path.join(tree, 'cifar-10-batches-bin');
    for (const f of BINS) {
      expect(fs.readFileSync(path.join(dest('cifar10'), f))).toEqual(fs.readFileSync(path.join(inner, f)));
      expect(await getObject(`datasets/cifar10/${f}`)).toEqual(fs.readFileSync(path.join(inner, f)));
    }
    expect(fs.existsSync(path.join(dest('cifar10'), 'readme.html'))).toBe(false);
    const manifest = JSON.parse((await getObject(`datasets/cifar10/${DATASET_MANIFEST_FILE}`)).toString());
    expect(manifest).toMatchObject({
      name: 'cifar10',
      format: 'cifar-bin',
      source: URL,
      archiveMd5: md5(fs.readFileSync(archive)),
    });
    for (const f of BINS)
      expect(manifest.files[f]).toEqual({
        sha256: sha256(fs.readFileSync(path.join(inner, f))),
        count: RECORDS,
      });
    const uploads = i.calls('aws').filter((l) => / s3 cp --only-show-errors \/\S+ s3:\/\/ds\//.test(l));
    expect(uploads).toHaveLength(9);
    expect(uploads[8]).toContain(`s3://ds/datasets/cifar10/${DATASET_MANIFEST_FILE}`);

    // what the trainer reads: BNN-PYNQ's class names, 20 training records (the last tenth validates), 4 test
    const code = [
      'import sys, json',
      'from bnn_train import dataset',
      'd = dataset.load(sys.argv[1], family="cnv")',
      'print(json.dumps([len(d.train.labels), len(d.val.labels), len(d.test.labels), d.class_names]))',
    ].join('\n');
    const py = spawnSync('/usr/bin/python3', ['-c', code, dest('cifar10')], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: INSTANCE_SCRIPTS },
    });
    expect(py.stderr).toBe('');
    expect(JSON.parse(py.stdout)).toEqual([
      18,
      2,
      4,
      ['Airplane', 'Automobile', 'Bird', 'Cat', 'Deer', 'Dog', 'Frog', 'Horse', 'Ship', 'Truck'],
    ]);
  });

  it('once cached, it is read from the bucket and checked by content (no download)', () => {
    i.clearCalls();
    fs.rmSync(dest('cifar10'), { recursive: true });
    const r = i.run(STAGE, ['cifar10', dest('cifar10')], env());
    expect(r.status).toBe(0);
    expect(i.calls('curl')).toEqual([]);
    expect(fs.readdirSync(dest('cifar10')).sort()).toEqual(
      [...BINS, 'batches.meta.txt', 'classes.txt', DATASET_MANIFEST_FILE].sort(),
    );
  });

  it('a cached record file that changed is refused and replaced from the official archive', async () => {
    const inner = path.join(tree, 'cifar-10-batches-bin');
    const good = fs.readFileSync(path.join(inner, 'data_batch_3.bin'));
    const changed = Buffer.from(good);
    changed.writeUInt8(changed.readUInt8(100) ^ 1, 100); // same size, whole records: only the SHA-256 can tell
    await put('datasets/cifar10/data_batch_3.bin', changed);
    i.clearCalls();
    const r = i.run(STAGE, ['cifar10', dest('cifar10')], env(md5File(archive)));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      `refusing the cached copy: s3://ds/datasets/cifar10/data_batch_3.bin is corrupt or partial: its SHA-256 is ${sha256(changed)}, dataset.json says ${sha256(good)}`,
    );
    expect(i.calls('curl')).toHaveLength(1);
    expect(await getObject('datasets/cifar10/data_batch_3.bin')).toEqual(good);
    expect(fs.readFileSync(path.join(dest('cifar10'), 'data_batch_3.bin'))).toEqual(good);
  });
});
