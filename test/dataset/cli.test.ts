import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { writeIdxLabels } from '../../lib/bnn';
import { uploadDataset } from '../../lib/dataset';
import { must } from '../../lib/defined';
import { runCli } from '../support/cli';
import { type LocalS3, newLocalS3Client, startLocalS3 } from '../support/s3-server';
import {
  encode,
  FASHION_CLASSES,
  fashionSamples,
  pairKey,
  readDataset,
  tempDir,
  writeImageFolder,
  writeZip,
} from './fixtures';

// The real `bnn-pynq` bin in a child process, on real Fashion-MNIST images written as files by the test.

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('round trip: 1,000 Fashion-MNIST test images as PNG class folders', () => {
  const samples = fashionSamples(1000);
  let work: string;
  let out: string;
  let result: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    work = tempDir('roundtrip');
    await writeImageFolder(path.join(work, 'src'), samples);
    out = path.join(work, 'out', 'fmnist-png');
    result = await runCli([
      'dataset',
      'import',
      path.join(work, 'src'),
      '--name',
      'fmnist-png',
      '--out',
      out,
      '--split',
      '0/0/100',
      '--invert',
      'no',
    ]);
  }, 180_000);

  test('exits 0 and names the output, the split and the preview', () => {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`imported 1000 images of 10 classes`);
    expect(result.stdout).toContain('train 0, validation 0, test 1000');
    expect(result.stdout).toContain(`preview: ${path.join(out, 'preview.png')}`);
  });

  test('the test idx files hold exactly the source (image, label) pairs, pixel for pixel', () => {
    const ds = readDataset(out);
    expect(ds.classes).toEqual(FASHION_CLASSES);
    expect([ds.test.count, ds.test.rows, ds.test.cols]).toEqual([1000, 28, 28]);
    expect(ds.train.count).toBe(0);
    const got = new Map<string, number>();
    for (let k = 0; k < ds.test.count; k++) {
      const key = pairKey(
        ds.test.pixels.subarray(k * 784, (k + 1) * 784),
        must(ds.classes[must(ds.testLabels[k], 'ds.testLabels[k]')], 'the class of a test label'),
      );
      got.set(key, (got.get(key) ?? 0) + 1);
    }
    const want = new Map<string, number>();
    for (const s of samples)
      want.set(pairKey(s.pixels, s.folder), (want.get(pairKey(s.pixels, s.folder)) ?? 0) + 1);
    expect(got.size).toBe(want.size);
    for (const [key, n] of want) expect(got.get(key)).toBe(n);
  });

  test('dataset.json records counts and the SHA-256 of each decompressed idx file', () => {
    const ds = readDataset(out);
    const m = ds.manifest;
    expect(m.name).toBe('fmnist-png');
    expect(m.splits).toEqual({ train: 0, validation: 0, test: 1000 });
    expect(m.polarity).toMatchObject({ mode: 'no', inverted: false });
    const perClass = new Map<string, number>();
    for (const s of samples) perClass.set(s.folder, (perClass.get(s.folder) ?? 0) + 1);
    for (const c of m.perClass) expect(c.test).toBe(perClass.get(c.class));
    for (const f of [
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ])
      expect(m.files[f].sha256).toBe(sha256(gunzipSync(readFileSync(path.join(out, f)))));
    expect(m.files['classes.txt'].sha256).toBe(sha256(readFileSync(path.join(out, 'classes.txt'))));
    expect(readdirSync(path.dirname(out))).toEqual(['fmnist-png']); // no temp folder left behind
  });

  test('export-test writes the test split as plain idx files for the board notebook', async () => {
    const dest = path.join(work, 'board-test');
    const r = await runCli(['dataset', 'export-test', 'fmnist-png', '--from', out, '--out', dest]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(dest).sort()).toEqual([
      'classes.txt',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ]);
    expect(readFileSync(path.join(dest, 't10k-images-idx3-ubyte'))).toEqual(
      gunzipSync(readFileSync(path.join(out, 't10k-images-idx3-ubyte.gz'))),
    );
    expect(readFileSync(path.join(dest, 't10k-labels-idx1-ubyte'))).toEqual(
      gunzipSync(readFileSync(path.join(out, 't10k-labels-idx1-ubyte.gz'))),
    );
  });

  test('export-test refuses a dataset whose files do not match dataset.json', async () => {
    const copy = path.join(work, 'tampered');
    mkdirSync(copy);
    for (const f of readdirSync(out)) writeFileSync(path.join(copy, f), readFileSync(path.join(out, f)));
    const ds = readDataset(out);
    const labels = Uint8Array.from(ds.testLabels);
    labels[0] = must(labels[0], 'labels[0]') ^ 1;
    writeFileSync(path.join(copy, 't10k-labels-idx1-ubyte.gz'), writeIdxLabels(labels));
    const dest = path.join(work, 'tampered-out');
    const r = await runCli(['dataset', 'export-test', 'fmnist-png', '--from', copy, '--out', dest]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /^error: .*t10k-labels-idx1-ubyte\.gz: SHA-256 of its decompressed bytes is [0-9a-f]{64}, dataset\.json says/,
    );
    expect(existsSync(dest)).toBe(false);
  });
});

/** Every rejection: non-zero exit, one `error:` line naming the offending file/class, no output folder. */
describe('rejections', () => {
  let work: string;
  const small = fashionSamples(60, 2000); // ~6 per class
  beforeAll(() => {
    work = tempDir('reject');
  });

  async function expectRejected(args: string[], pattern: RegExp) {
    const out = path.join(work, 'out', `ds-${Math.random().toString(16).slice(2, 8)}`);
    const r = await runCli(['dataset', 'import', ...args, '--out', out]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(pattern);
    expect(existsSync(out)).toBe(false);
    if (existsSync(path.dirname(out))) expect(readdirSync(path.dirname(out))).toEqual([]);
  }

  test('more than 64 classes', async () => {
    const src = path.join(work, 'many');
    const one = (await encode(must(small[0], 'small[0]').pixels, 'png')).bytes;
    for (let c = 0; c < 65; c++) {
      mkdirSync(path.join(src, `class-${String(c).padStart(2, '0')}`), { recursive: true });
      for (let k = 0; k < 10; k++)
        writeFileSync(path.join(src, `class-${String(c).padStart(2, '0')}`, `${k}.png`), one);
    }
    await expectRejected([src, '--name', 'many'], /65 classes .*at most 64/);
  });

  test('an empty class', async () => {
    const src = await writeImageFolder(path.join(work, 'empty'), small);
    mkdirSync(path.join(src, 'zebra'));
    await expectRejected(
      [src, '--name', 'empty'],
      /class 'zebra' is empty \(folder zebra\/ holds no image files\)/,
    );
  });

  test('a class with fewer images than the split needs', async () => {
    const src = await writeImageFolder(path.join(work, 'few'), small);
    await expectRejected(
      [src, '--name', 'few', '--split', '80/10/10'],
      /class '[a-z-]+' has \d image\(s\); --split 80\/10\/10 needs at least 7 per class so that every split gets one/,
    );
  });

  test('an unreadable image stops the import and is named; --skip-bad continues without it', async () => {
    const src = await writeImageFolder(path.join(work, 'corrupt'), small);
    const good = readFileSync(
      path.join(src, 'bag', must(readdirSync(path.join(src, 'bag'))[0], 'a file in bag/')),
    );
    writeFileSync(path.join(src, 'bag', 'broken.png'), good.subarray(0, 60));
    writeFileSync(path.join(src, 'coat', 'noise.jpg'), Buffer.from('this is not a jpeg at all'));
    await expectRejected(
      [src, '--name', 'corrupt', '--split', '50/0/50'],
      /2 unreadable or corrupt image\(s\) in .*: bag\/broken\.png \(.*\), coat\/noise\.jpg \(.*\)\. .*--skip-bad/,
    );
    const out = path.join(work, 'skipbad');
    const r = await runCli([
      'dataset',
      'import',
      src,
      '--name',
      'corrupt',
      '--split',
      '50/0/50',
      '--skip-bad',
      '--out',
      out,
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/skipped 2 unreadable image\(s\) \(--skip-bad\): bag\/broken\.png/);
    const ds = readDataset(out);
    expect(ds.train.count + ds.test.count).toBe(60);
    expect(ds.manifest.source.skipped.map((s: { path: string }) => s.path)).toEqual([
      'bag/broken.png',
      'coat/noise.jpg',
    ]);
  });

  test('a zip with an entry outside its root', async () => {
    const zip = path.join(work, 'evil.zip');
    const png = (await encode(must(small[0], 'small[0]').pixels, 'png')).bytes;
    writeZip(zip, { 'a/1.png': png, 'a/2.png': png, 'b/1.png': png, '../escape.png': png });
    await expectRejected(
      [zip, '--name', 'evil', '--split', '0/0/100'],
      /evil\.zip: entry '\.\.\/escape\.png' has a path outside the archive's root/,
    );
  });

  test('a folder with no class sub-folders', async () => {
    const src = path.join(work, 'flat');
    mkdirSync(src);
    for (let k = 0; k < 5; k++)
      writeFileSync(
        path.join(src, `${k}.png`),
        (await encode(must(small[k], 'small[k]').pixels, 'png')).bytes,
      );
    await expectRejected([src, '--name', 'flat'], /flat: no class sub-folders found/);
  });

  test('a built-in dataset name', async () => {
    const src = await writeImageFolder(path.join(work, 'builtin'), small);
    await expectRejected(
      [src, '--name', 'fashion-mnist'],
      /'fashion-mnist' is a built-in dataset and cannot be replaced/,
    );
  });

  test('a class folder missing from --classes', async () => {
    const src = await writeImageFolder(path.join(work, 'classes'), small);
    const file = path.join(work, 'classes.txt');
    writeFileSync(file, FASHION_CLASSES.filter((c) => c !== 'shirt').join('\n'));
    await expectRejected(
      [src, '--name', 'x', '--classes', file, '--split', '0/0/100'],
      /class folder 'shirt' .* is not listed/,
    );
  });
});

describe('zip input and upload to the DatasetBucket (loopback S3 server)', () => {
  let s3: LocalS3;
  let work: string;
  beforeAll(async () => {
    s3 = await startLocalS3(['dataset-bucket']);
    work = tempDir('upload');
  });
  afterAll(() => s3.stop());

  test('a zip of a folder of class folders imports and uploads under datasets/<name>/, dataset.json last', async () => {
    const samples = fashionSamples(200, 5000);
    const entries: Record<string, Buffer> = {};
    for (const [i, s] of samples.entries())
      entries[`my-set/${s.folder}/${i}.png`] = (await encode(s.pixels, 'png')).bytes;
    entries['my-set/README.txt'] = Buffer.from('not an image');
    const zip = path.join(work, 'my-set.zip');
    writeZip(zip, entries);
    const out = path.join(work, 'my-set');
    const r = await runCli(
      [
        'dataset',
        'import',
        zip,
        '--name',
        'my-set',
        '--out',
        out,
        '--split',
        '70/15/15',
        '--upload',
        '--bucket',
        'dataset-bucket',
      ],
      { env: s3.env },
    );
    expect(r.stderr).not.toMatch(/^error/m); // (the AWS SDK may print a Node-version warning)
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('uploaded to s3://dataset-bucket/datasets/my-set/ (dataset.json last)');
    expect(r.stdout).toContain(
      'ignored 1 file(s) (not images in class folders, or links not followed): README.txt (not inside a class folder)',
    );
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: 'dataset-bucket', Prefix: 'datasets/my-set/' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
    const local = readdirSync(out).sort();
    expect(keys).toEqual(local.map((f) => `datasets/my-set/${f}`));
    for (const f of local) {
      const got = await s3.client.send(
        new GetObjectCommand({ Bucket: 'dataset-bucket', Key: `datasets/my-set/${f}` }),
      );
      expect(Buffer.from(await (got.Body as NonNullable<typeof got.Body>).transformToByteArray())).toEqual(
        readFileSync(path.join(out, f)),
      );
    }
    // dataset.json was written after every other object.
    const modified = new Map(
      (listed.Contents ?? []).map((o) => [o.Key as string, (o.LastModified as Date).getTime()]),
    );
    const manifestTime = must(modified.get('datasets/my-set/dataset.json'), 'datasets/my-set/dataset.json');
    for (const [k, t] of modified)
      if (!k.endsWith('dataset.json')) expect(t).toBeLessThanOrEqual(manifestTime);
    const ds = readDataset(out);
    expect(ds.train.count + ds.test.count).toBe(200);
    expect(ds.manifest.splits.train + ds.manifest.splits.validation).toBe(ds.train.count);
    expect(ds.manifest.source.kind).toBe('zip');

    // A second upload of the same name is refused without --force, before anything is written.
    const again = await runCli(
      [
        'dataset',
        'import',
        zip,
        '--name',
        'my-set',
        '--out',
        path.join(work, 'again'),
        '--upload',
        '--bucket',
        'dataset-bucket',
        '--split',
        '70/15/15',
      ],
      { env: s3.env },
    );
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(
      /dataset 'my-set' already exists in s3:\/\/dataset-bucket\/datasets\/my-set\/; pass --force/,
    );
    expect(existsSync(path.join(work, 'again'))).toBe(false); // refused before the import
    await s3.client.send(
      new HeadObjectCommand({ Bucket: 'dataset-bucket', Key: 'datasets/my-set/dataset.json' }),
    );

    // --force re-upload through the library, recording the calls: dataset.json deleted first, written last.
    const calls: string[] = [];
    const client = newLocalS3Client(s3.endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        calls.push(`${context.commandName}:${input.Key}`);
        return next(args);
      },
      { step: 'initialize' },
    );
    await uploadDataset(client, 'dataset-bucket', out, { force: true });
    client.destroy();
    const manifestKey = 'datasets/my-set/dataset.json';
    expect(calls[0]).toBe(`HeadObjectCommand:${manifestKey}`);
    expect(calls[1]).toBe(`DeleteObjectCommand:${manifestKey}`);
    expect(calls.slice(2)).toEqual([
      ...[
        'train-images-idx3-ubyte.gz',
        'train-labels-idx1-ubyte.gz',
        't10k-images-idx3-ubyte.gz',
        't10k-labels-idx1-ubyte.gz',
        'classes.txt',
        'preview.png',
      ].map((f) => `PutObjectCommand:datasets/my-set/${f}`),
      `PutObjectCommand:${manifestKey}`,
    ]);

    // export-test reads it back from the bucket.
    const dest = path.join(work, 'from-bucket');
    const exp = await runCli(
      ['dataset', 'export-test', 'my-set', '--bucket', 'dataset-bucket', '--out', dest],
      { env: s3.env },
    );
    expect(exp.stderr).not.toMatch(/^error/m);
    expect(readFileSync(path.join(dest, 't10k-images-idx3-ubyte'))).toEqual(
      gunzipSync(readFileSync(path.join(out, 't10k-images-idx3-ubyte.gz'))),
    );
  }, 180_000);
});
