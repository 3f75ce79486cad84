import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { readCifarRecords } from '../../lib/bnn/cifar';
import { decodeOverlayFiles } from '../../lib/bnn/overlay-params';
import { createOverlaySimulator } from '../../lib/bnn/overlay-simulate';
import { encodeCifarFiles } from '../../lib/dataset/output';
import { previewLayout } from '../../lib/dataset/preview';
import { mulberry32 } from '../../lib/dataset/random';
import { must } from '../../lib/defined';
import { readParamFiles } from '../../lib/param-folder/local';
import { REPO_ROOT, runCli, SHARED_DATA } from '../support/cli';
import { tempDir, writeZip } from './fixtures';

// `dataset import --format cifar` through the real bin: colour images written by the test (seeded noise
// in five encodings, plus the four photos of BNN-PYNQ's CNV notebooks as the board saw them), read back
// from the CIFAR-10 binary records, by BNN-PYNQ's trainer reader and by the verifier.

const PLANE = 1024;
const RECORD_PIXELS = 3 * PLANE;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const key = (pixels: Uint8Array, cls: string) => `${cls}:${sha(pixels)}`;
const NOTEBOOK = path.join(SHARED_DATA, 'cnv-board-images');
const CNV_PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'cifar10', 'cnvW1A1');

/** Planar (R, G, B planes) → interleaved RGB, as image files store pixels. */
function interleave(planar: Uint8Array, channels = 3): Buffer {
  const out = Buffer.alloc(PLANE * channels, 255);
  for (let i = 0; i < PLANE; i++)
    for (let c = 0; c < 3; c++) out[i * channels + c] = must(planar[c * PLANE + i], 'planar[c * PLANE + i]');
  return out;
}

type Encoding = 'png' | 'png16' | 'webp' | 'tiff' | 'rgba-opaque';
const ENCODINGS: Encoding[] = ['png', 'png16', 'webp', 'tiff', 'rgba-opaque'];

async function encodeRgb(planar: Uint8Array, how: Encoding): Promise<{ bytes: Buffer; ext: string }> {
  const img = () => sharp(interleave(planar), { raw: { width: 32, height: 32, channels: 3 } });
  switch (how) {
    case 'png':
      return { bytes: await img().png().toBuffer(), ext: 'png' };
    case 'png16':
      return { bytes: await img().toColourspace('rgb16').png().toBuffer(), ext: 'png' };
    case 'webp':
      return { bytes: await img().webp({ lossless: true }).toBuffer(), ext: 'webp' };
    case 'tiff':
      return { bytes: await img().tiff({ compression: 'lzw' }).toBuffer(), ext: 'tif' };
    case 'rgba-opaque':
      return {
        bytes: await sharp(interleave(planar, 4), { raw: { width: 32, height: 32, channels: 4 } })
          .png()
          .toBuffer(),
        ext: 'png',
      };
  }
}

interface Source {
  cls: string;
  pixels: Uint8Array;
}

/** 11 seeded noise images per class plus that class's notebook photo (as the board's records hold it). */
function sources(): Source[] {
  const random = mulberry32(17);
  const out: Source[] = [];
  const photo: Record<string, string> = {
    airplane: 'airplane-notebook.bin',
    bird: 'bird-notebook.bin',
    car: 'car-notebook.bin',
    deer: 'deer-notebook.bin',
  };
  for (const [cls, file] of Object.entries(photo)) {
    out.push({ cls, pixels: readCifarRecords(readFileSync(path.join(NOTEBOOK, file)), file).pixels });
    for (let k = 0; k < 11; k++)
      out.push({ cls, pixels: Uint8Array.from({ length: RECORD_PIXELS }, () => Math.floor(random() * 256)) });
  }
  return out;
}

/** Every record of a CNV dataset folder, training files first (data_batch_1.bin, ...), then test_batch.bin. */
function readRecords(dir: string) {
  const read = (f: string) => readCifarRecords(readFileSync(path.join(dir, f)), f);
  const batches = readdirSync(dir)
    .filter((n) => /^data_batch_\d+\.bin$/.test(n))
    .sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]));
  const train = batches.map(read);
  return {
    batches,
    train: {
      count: train.reduce((s, r) => s + r.count, 0),
      labels: Uint8Array.from(train.flatMap((r) => [...r.labels])),
      pixels: Uint8Array.from(train.flatMap((r) => [...r.pixels])),
    },
    test: read('test_batch.bin'),
    manifest: JSON.parse(readFileSync(path.join(dir, 'dataset.json'), 'utf8')),
    classes: readFileSync(path.join(dir, 'classes.txt'), 'utf8').split('\n'),
  };
}

async function writeFolder(root: string, list: Source[]): Promise<void> {
  await Promise.all(
    list.map(async (s, i) => {
      const { bytes, ext } = await encodeRgb(
        s.pixels,
        must(ENCODINGS[i % ENCODINGS.length], 'ENCODINGS[i % ENCODINGS.length]'),
      );
      mkdirSync(path.join(root, s.cls), { recursive: true });
      writeFileSync(path.join(root, s.cls, `${String(i).padStart(3, '0')}.${ext}`), bytes);
    }),
  );
}

describe('dataset import --format cifar: 48 colour images in 4 class folders', () => {
  const list = sources();
  let work: string;
  let out: string;
  let result: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    work = tempDir('rgb');
    await writeFolder(path.join(work, 'src'), list);
    out = path.join(work, 'out', 'photos');
    result = await runCli([
      'dataset',
      'import',
      path.join(work, 'src'),
      '--name',
      'photos',
      '--format',
      'cifar',
      '--out',
      out,
      '--split',
      '50/25/25',
      '--seed',
      '3',
    ]);
  }, 180_000);

  test('exits 0, says which format it wrote and for which networks, and writes only CIFAR files', () => {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('imported 48 images of 4 classes');
    expect(result.stdout).toContain(
      'format: 32×32 RGB CIFAR-10 binary records for the CNV overlays (cnvW1A1, cnvW1A2, cnvW2A2); colours kept as they are, non-square images centred on white',
    );
    expect(result.stdout).toContain('train 24, validation 12, test 12');
    expect(result.stdout).toContain('the colour images exactly as the board will read them');
    expect(readdirSync(out).sort()).toEqual([
      'classes.txt',
      'data_batch_1.bin',
      'dataset.json',
      'preview.png',
      'test_batch.bin',
    ]);
  });

  test('the records hold exactly the source (image, class) pairs, pixel for pixel, in the right splits', () => {
    const ds = readRecords(out);
    expect(ds.classes).toEqual(['airplane', 'bird', 'car', 'deer']);
    expect([ds.train.count, ds.test.count]).toEqual([36, 12]);
    const got = new Map<string, number>();
    const add = (pixels: Uint8Array, labels: Uint8Array) => {
      for (let i = 0; i < labels.length; i++) {
        const k = key(
          pixels.subarray(i * RECORD_PIXELS, (i + 1) * RECORD_PIXELS),
          must(ds.classes[must(labels[i], 'labels[i]')], 'the class of a label'),
        );
        got.set(k, (got.get(k) ?? 0) + 1);
      }
    };
    add(ds.train.pixels, ds.train.labels);
    add(ds.test.pixels, ds.test.labels);
    const want = new Map<string, number>();
    for (const s of list) want.set(key(s.pixels, s.cls), (want.get(key(s.pixels, s.cls)) ?? 0) + 1);
    expect(got).toEqual(want);
    // Stratified: every class has 6 train, 3 validation (the end of the training file), 3 test.
    const per = (labels: Uint8Array) => [0, 1, 2, 3].map((c) => labels.filter((l) => l === c).length);
    expect(per(ds.train.labels.subarray(0, 24))).toEqual([6, 6, 6, 6]);
    expect(per(ds.train.labels.subarray(24))).toEqual([3, 3, 3, 3]);
    expect(per(ds.test.labels)).toEqual([3, 3, 3, 3]);
  });

  test('dataset.json: format cifar-bin, the SHA-256 and record count of each file as stored', () => {
    const m = readRecords(out).manifest;
    expect(m.format).toBe('cifar-bin');
    expect(m.splits).toEqual({ train: 24, validation: 12, test: 12 });
    expect(m.image).toMatchObject({
      width: 32,
      height: 32,
      channels: 3,
      fit: 'contain',
      background: 'white',
    });
    expect(m.polarity).toBeUndefined();
    for (const [f, n] of [
      ['data_batch_1.bin', 36],
      ['test_batch.bin', 12],
    ] as const)
      expect(m.files[f]).toEqual({ sha256: sha(readFileSync(path.join(out, f))), count: n });
    expect(m.files['classes.txt'].sha256).toBe(sha(readFileSync(path.join(out, 'classes.txt'))));
    expect(readdirSync(path.dirname(out))).toEqual(['photos']); // no temporary left behind
  });

  test('preview.png is in colour, and each tile pixel is the record pixel (nearest-neighbour ×3)', async () => {
    const ds = readRecords(out);
    const { data, info } = await sharp(path.join(out, 'preview.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const layout = previewLayout(4, { side: 32, groups: 1 });
    expect([info.width, info.height, info.channels]).toEqual([layout.width, layout.height, 3]);
    // Class 2's first image in file order is its first training record.
    const first = ds.train.labels.indexOf(2);
    const pixels = ds.train.pixels.subarray(first * RECORD_PIXELS, (first + 1) * RECORD_PIXELS);
    const { left, top } = layout.tile(2, 0, false);
    for (const [x, y] of [
      [0, 0],
      [31, 0],
      [17, 9],
      [31, 31],
    ] as const)
      for (let c = 0; c < 3; c++) {
        const at = ((top + y * 3 + 1) * info.width + left + x * 3 + 2) * 3 + c;
        expect(data[at]).toBe(pixels[c * PLANE + y * 32 + x]);
      }
  });

  test("BNN-PYNQ's CNV trainer (scripts/instance/bnn_train) reads it: the recorded split, the classes, the same records", () => {
    const py = `import json, sys
import numpy as np
from bnn_train import dataset
d = dataset.load(sys.argv[1], family="cnv")
print(json.dumps({"train": len(d.train.labels), "val": len(d.val.labels), "test": len(d.test.labels),
  "classes": d.class_names, "shape": list(d.train.images.shape[1:]),
  "val_sha": __import__("hashlib").sha256(np.ascontiguousarray(d.val.images).tobytes()).hexdigest()}))`;
    const got = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', py, out], {
        env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'scripts', 'instance') },
      }).toString(),
    );
    const ds = readRecords(out);
    expect(got).toEqual({
      train: 24,
      val: 12,
      test: 12,
      classes: ['airplane', 'bird', 'car', 'deer'],
      shape: [3, 32, 32],
      val_sha: sha(ds.train.pixels.subarray(24 * RECORD_PIXELS)),
    });
  });

  test('export-test writes test_batch.bin as is; `verify` of a CNV folder reads it, image by image', async () => {
    const dest = path.join(work, 'board-test');
    const r = await runCli(['dataset', 'export-test', 'photos', '--from', out, '--out', dest]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`pass ${dest}/test_batch.bin to CnvClassifier(...).classify_cifars`);
    expect(readdirSync(dest).sort()).toEqual(['classes.txt', 'test_batch.bin']);
    expect(readFileSync(path.join(dest, 'test_batch.bin'))).toEqual(
      readFileSync(path.join(out, 'test_batch.bin')),
    );

    const predictions = path.join(work, 'predictions.txt');
    const v = await runCli([
      'verify',
      CNV_PARAMS,
      '--images',
      path.join(dest, 'test_batch.bin'),
      '--predictions',
      predictions,
      '--json',
    ]);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.network).toBe('cnvW1A1');
    expect(report.total).toBe(12);
    // What the simulator predicts for each SOURCE image (built by the test, not read from the export),
    // matched to the exported records by their pixels: the export is in the layout the overlay reads.
    const params = decodeOverlayFiles(await readParamFiles(CNV_PARAMS), 'cnvW1A1', CNV_PARAMS);
    const all = new Uint8Array(list.length * RECORD_PIXELS);
    list.forEach((s, i) => {
      all.set(s.pixels, i * RECORD_PIXELS);
    });
    const expected = new Uint8Array(list.length);
    createOverlaySimulator(params).run({ kind: 'cifar', pixels: all }, 0, list.length, expected);
    const bySha = new Map(list.map((s, i) => [sha(s.pixels), must(expected[i], 'expected[i]')]));
    const test = readCifarRecords(readFileSync(path.join(dest, 'test_batch.bin')), 'test_batch.bin');
    const want = Array.from({ length: test.count }, (_, i) =>
      bySha.get(sha(test.pixels.subarray(i * RECORD_PIXELS, (i + 1) * RECORD_PIXELS))),
    );
    expect(readFileSync(predictions, 'utf8')).toBe(want.map((p) => `${p}\n`).join(''));
    expect(report.correct).toBe(want.filter((p, i) => p === test.labels[i]).length);
  });

  test('export-test refuses a test_batch.bin that does not match dataset.json and writes nothing', async () => {
    const copy = path.join(work, 'tampered');
    mkdirSync(copy);
    for (const f of readdirSync(out)) writeFileSync(path.join(copy, f), readFileSync(path.join(out, f)));
    const records = readFileSync(path.join(copy, 'test_batch.bin'));
    records[5000] = must(records[5000], 'records[5000]') ^ 1;
    writeFileSync(path.join(copy, 'test_batch.bin'), records);
    const dest = path.join(work, 'tampered-out');
    const r = await runCli(['dataset', 'export-test', 'photos', '--from', copy, '--out', dest]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^error: .*tampered\/test_batch\.bin: SHA-256 of its bytes is [0-9a-f]{64}, dataset\.json says [0-9a-f]{64}; the copy is corrupt or partial, import or upload it again\n$/,
    );
    expect(existsSync(dest)).toBe(false);
  });
});

describe('dataset import --format cifar: geometry and refusals', () => {
  let work: string;
  beforeAll(() => {
    work = tempDir('rgb-geometry');
  });

  const solid = (w: number, h: number, rgba: [number, number, number, number]) =>
    sharp({
      create: {
        width: w,
        height: h,
        channels: 4,
        background: { r: rgba[0], g: rgba[1], b: rgba[2], alpha: rgba[3] / 255 },
      },
    })
      .png()
      .toBuffer();

  /** Imports `files` (class → list of image bytes) as --format cifar, all into the test split. */
  async function importAll(name: string, files: Record<string, Buffer[]>, extra: string[] = []) {
    const src = path.join(work, `${name}-src`);
    for (const [cls, images] of Object.entries(files)) {
      mkdirSync(path.join(src, cls), { recursive: true });
      images.forEach((b, i) => {
        writeFileSync(path.join(src, cls, `${i}.png`), b);
      });
    }
    const out = path.join(work, name);
    const r = await runCli([
      'dataset',
      'import',
      src,
      '--name',
      name,
      '--format',
      'cifar',
      '--out',
      out,
      '--split',
      '0/0/100',
      ...extra,
    ]);
    return { r, out };
  }

  test('a 64×32 image is centred on white (contain), or stretched (fill); transparency becomes white', async () => {
    const wide = await solid(64, 32, [200, 10, 30, 255]);
    // Left half transparent (black under it), right half opaque blue.
    const half = Buffer.alloc(32 * 32 * 4);
    for (let y = 0; y < 32; y++) for (let x = 16; x < 32; x++) half.set([0, 0, 250, 255], (y * 32 + x) * 4);
    const transparent = await sharp(half, { raw: { width: 32, height: 32, channels: 4 } })
      .png()
      .toBuffer();
    const { r, out } = await importAll('geometry', { a: [wide], b: [transparent] });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const test = readCifarRecords(readFileSync(path.join(out, 'test_batch.bin')), 'test');
    const image = (label: number) => {
      const i = test.labels.indexOf(label);
      return test.pixels.subarray(i * RECORD_PIXELS, (i + 1) * RECORD_PIXELS);
    };
    const at = (p: Uint8Array, x: number, y: number) => [0, 1, 2].map((c) => p[c * PLANE + y * 32 + x]);
    const a = image(0);
    for (const y of [0, 7, 24, 31]) expect(at(a, 5, y)).toEqual([255, 255, 255]); // the white pad, 8 rows each side
    for (const y of [8, 15, 23]) for (const x of [0, 16, 31]) expect(at(a, x, y)).toEqual([200, 10, 30]);
    const b = image(1);
    expect(at(b, 3, 3)).toEqual([255, 255, 255]);
    expect(at(b, 28, 20)).toEqual([0, 0, 250]);

    const filled = await importAll('geometry-fill', { a: [wide], b: [transparent] }, ['--fit', 'fill']);
    expect(filled.r.status).toBe(0);
    const f = readCifarRecords(readFileSync(path.join(filled.out, 'test_batch.bin')), 'test');
    const fa = f.pixels.subarray(f.labels.indexOf(0) * RECORD_PIXELS);
    for (const y of [0, 31]) expect(at(fa, 5, y)).toEqual([200, 10, 30]);
  });

  test('a zip of the class folders gives the same records as the folder', async () => {
    const images = await Promise.all(
      [
        [10, 20, 30, 255],
        [200, 100, 0, 255],
        [0, 0, 0, 128],
        [7, 8, 9, 255],
      ].map((c, i) => solid(20 + i * 10, 32, c as [number, number, number, number])),
    );
    const files = { a: images.slice(0, 2), b: images.slice(2) };
    const folder = await importAll('zip-folder', files);
    expect(folder.r.status).toBe(0);
    const zip = path.join(work, 'set.zip');
    writeZip(
      zip,
      Object.fromEntries(
        Object.entries(files).flatMap(([cls, list]) =>
          list.map((b, i) => [`set/${cls}/${i}.png`, b] as const),
        ),
      ),
    );
    const out = path.join(work, 'zip-out');
    const r = await runCli([
      'dataset',
      'import',
      zip,
      '--name',
      'zipped',
      '--format',
      'cifar',
      '--out',
      out,
      '--split',
      '0/0/100',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(path.join(out, 'test_batch.bin'))).toEqual(
      readFileSync(path.join(folder.out, 'test_batch.bin')),
    );
    // Black at alpha 128/255 laid on white: 255 · (1 - 128/255) = 127 in every channel (centre pixel).
    const rec = readCifarRecords(readFileSync(path.join(out, 'test_batch.bin')), 'test');
    const centres = [...rec.labels.keys()]
      .filter((i) => rec.labels[i] === 1)
      .map((i) => [0, 1, 2].map((c) => rec.pixels[i * RECORD_PIXELS + c * PLANE + 16 * 32 + 16]));
    expect(centres).toContainEqual([127, 127, 127]);
  });

  test('--invert is refused for a colour import, with the reason; nothing is written', async () => {
    const img = await solid(32, 32, [1, 2, 3, 255]);
    const { r, out } = await importAll('inverted', { a: [img], b: [img] }, ['--invert', 'yes']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'error: --invert yes: only grey (--format idx) datasets are inverted (the LFC binarizes its input at 128); the CNV reads colour pixels as they are, so a --format cifar import takes no --invert\n',
    );
    expect(existsSync(out)).toBe(false);
  });

  test('an unknown --format is refused by the argument parser, naming the choices', async () => {
    const r = await runCli(['dataset', 'import', work, '--name', 'x', '--format', 'png']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /--format <format>' argument 'png' is invalid\. Allowed choices are idx, cifar\./,
    );
  });
});

test('the training records are split over data_batch_N.bin files of 10,000 records, in order', () => {
  const n = 20_001;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 7);
  const images = new Uint8Array(n * RECORD_PIXELS);
  for (let i = 0; i < n; i++) images[i * RECORD_PIXELS] = i & 0xff;
  const test = { labels: Uint8Array.of(3), images: new Uint8Array(RECORD_PIXELS).fill(9) };
  const files = encodeCifarFiles({ labels, images }, test);
  expect(files.map((f) => [f.name, f.count])).toEqual([
    ['data_batch_1.bin', 10_000],
    ['data_batch_2.bin', 10_000],
    ['data_batch_3.bin', 1],
    ['test_batch.bin', 1],
  ]);
  const third = readCifarRecords(files[2]?.bytes as Uint8Array, 'data_batch_3.bin');
  expect([third.labels[0], third.pixels[0]]).toEqual([20_000 % 7, 20_000 & 0xff]);
  expect(files[3]?.bytes).toEqual(Uint8Array.of(3, ...new Uint8Array(RECORD_PIXELS).fill(9)));
  // An empty training part still gets its (empty) data_batch_1.bin: the trainer's file list starts there.
  expect(
    encodeCifarFiles({ labels: new Uint8Array(0), images: new Uint8Array(0) }, test).map((f) => f.name),
  ).toEqual(['data_batch_1.bin', 'test_batch.bin']);
});
