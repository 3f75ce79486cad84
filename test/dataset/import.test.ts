import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { importDataset, PREVIEW_PER_CLASS, PREVIEW_SCALE, previewLayout } from '../../lib/dataset';
import type { ImportOptions } from '../../lib/dataset/import';
import { must } from '../../lib/defined';
import {
  FASHION_CLASSES,
  fashionSamples,
  pairKey,
  readDataset,
  tempDir,
  type Variant,
  writeImageFolder,
} from './fixtures';

// The import library in-process on real Fashion-MNIST images saved in many forms.

const base = (source: string, out: string, extra: Partial<ImportOptions> = {}): ImportOptions => ({
  source,
  name: 'variant',
  out,
  split: [0, 0, 100],
  seed: 7,
  invert: 'auto',
  fit: 'contain',
  skipBad: false,
  force: false,
  toolVersion: 'test',
  ...extra,
});

const samples = fashionSamples(100, 3000);
const sourcePairs = new Set(samples.map((s) => pairKey(s.pixels, s.folder)));

/** Every imported test image, with its class name. */
function importedPairs(out: string): { pixels: Uint8Array; folder: string }[] {
  const ds = readDataset(out);
  expect([ds.test.rows, ds.test.cols]).toEqual([28, 28]);
  return Array.from({ length: ds.test.count }, (_, k) => ({
    pixels: ds.test.pixels.subarray(k * 784, (k + 1) * 784),
    folder: must(ds.classes[must(ds.testLabels[k], 'ds.testLabels[k]')], 'the class of a test label'),
  }));
}

/** Mean absolute pixel difference between each imported image and the closest source image of its class. */
function worstMeanDifference(out: string): number {
  let worst = 0;
  for (const got of importedPairs(out)) {
    let best = Number.POSITIVE_INFINITY;
    for (const s of samples) {
      if (s.folder !== got.folder) continue;
      let d = 0;
      for (let i = 0; i < 784; i++)
        d += Math.abs(must(got.pixels[i], 'got.pixels[i]') - must(s.pixels[i], 's.pixels[i]'));
      best = Math.min(best, d / 784);
    }
    worst = Math.max(worst, best);
  }
  return worst;
}

describe.each<[Variant, 'exact' | 'any' | number]>([
  ['rgba', 'exact'],
  ['png16', 'exact'],
  ['webp', 'exact'],
  ['tiff', 'exact'],
  ['bmp', 'exact'],
  ['exif-rotated', 'exact'],
  ['jpeg', 6],
  ['up56', 12],
  ['r20x35', 'any'], // the fit test below checks the geometry
  ['gif', 12],
])('the same images saved as %s', (variant, expected) => {
  test(`import succeeds, every image is 28×28, and ${expected === 'exact' ? 'pixels are identical' : `mean difference <= ${expected}`}`, async () => {
    const work = tempDir(variant);
    const src = await writeImageFolder(path.join(work, 'src'), samples, variant);
    const out = path.join(work, 'out');
    const result = await importDataset(base(src, out));
    expect(result.manifest.source.imported).toBe(100);
    expect(result.polarity?.inverted).toBe(false);
    const pairs = importedPairs(out);
    expect(pairs).toHaveLength(100);
    if (expected === 'exact') {
      for (const p of pairs) expect(sourcePairs.has(pairKey(p.pixels, p.folder))).toBe(true);
    } else if (expected !== 'any') {
      expect(worstMeanDifference(out)).toBeLessThanOrEqual(expected);
    }
  }, 120_000);
});

test('20×35 images are padded, not stretched, with --fit contain (the default) and stretched with --fit fill', async () => {
  const work = tempDir('fit');
  const src = await writeImageFolder(path.join(work, 'src'), samples.slice(0, 20), 'r20x35');
  const contain = await importDataset(base(src, path.join(work, 'contain'), { split: [0, 0, 100] }));
  const fill = await importDataset(base(src, path.join(work, 'fill'), { fit: 'fill' }));
  expect(contain.manifest.image.fit).toBe('contain');
  // contain: 20×35 → 16×28, centred, so columns 0..5 and 22..27 are padding: one value per image (its border mean).
  for (const p of importedPairs(contain.outDir)) {
    const pad = must(p.pixels[0], 'p.pixels[0]');
    expect(pad).toBeLessThan(128); // dark background stays dark
    for (let y = 0; y < 28; y++)
      for (const x of [0, 1, 2, 3, 4, 5, 22, 23, 24, 25, 26, 27]) expect(p.pixels[y * 28 + x]).toBe(pad);
  }
  expect(fill.manifest.image.fit).toBe('fill');
  expect(worstMeanDifference(fill.outDir)).toBeLessThan(worstMeanDifference(contain.outDir));
}, 120_000);

test('black-on-white copies are detected and inverted by auto (and kept by --invert no)', async () => {
  const work = tempDir('inverted');
  const src = await writeImageFolder(path.join(work, 'src'), samples, 'inverted');
  const auto = await importDataset(base(src, path.join(work, 'auto')));
  expect(auto.polarity?.inverted).toBe(true);
  expect(auto.polarity?.medianBorder).toBeGreaterThan(200);
  expect(auto.notes[0]).toMatch(
    /^polarity: black-on-white detected \(median border brightness \d+\/255\): inverted to white-on-black/,
  );
  expect(auto.manifest.polarity).toMatchObject({ mode: 'auto', inverted: true, result: 'white-on-black' });
  for (const p of importedPairs(auto.outDir)) expect(sourcePairs.has(pairKey(p.pixels, p.folder))).toBe(true);
  const kept = await importDataset(base(src, path.join(work, 'kept'), { invert: 'no' }));
  expect(kept.polarity?.inverted).toBe(false);
  for (const p of importedPairs(kept.outDir))
    expect(sourcePairs.has(pairKey(p.pixels, p.folder))).toBe(false);
}, 120_000);

test('RGBA with a transparent background: the glyph stays visible whatever its colour', async () => {
  const work = tempDir('alpha');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  // Black ink on transparency (a common export): the image's alpha is the source pixel.
  for (const [i, s] of samples.slice(0, 20).entries()) {
    const rgba = Buffer.alloc(784 * 4);
    for (let k = 0; k < 784; k++) rgba[k * 4 + 3] = must(s.pixels[k], 's.pixels[k]');
    mkdirSync(path.join(work, 'src', s.folder), { recursive: true });
    writeFileSync(
      path.join(work, 'src', s.folder, `${i}.png`),
      await sharp(rgba, { raw: { width: 28, height: 28, channels: 4 } })
        .png()
        .toBuffer(),
    );
  }
  const result = await importDataset(base(path.join(work, 'src'), path.join(work, 'out')));
  // Laid on white → black-on-white → inverted by auto → the original, to within alpha rounding.
  expect(result.polarity?.inverted).toBe(true);
  for (const p of importedPairs(result.outDir)) {
    const source = samples.find(
      (s) =>
        s.folder === p.folder &&
        s.pixels.every((v, k) => Math.abs(v - must(p.pixels[k], 'p.pixels[k]')) <= 1),
    );
    expect(source).toBeDefined();
  }
}, 120_000);

describe('split and preview', () => {
  const many = fashionSamples(600, 4000);
  let out: string;
  let result: Awaited<ReturnType<typeof importDataset>>;
  beforeAll(async () => {
    const work = tempDir('split');
    const src = await writeImageFolder(path.join(work, 'src'), many);
    // Two exact duplicates of one image, in its class folder.
    const { copyFileSync, readdirSync } = await import('node:fs');
    const first = must(readdirSync(path.join(src, 'bag'))[0], 'a file in bag/');
    copyFileSync(path.join(src, 'bag', first), path.join(src, 'bag', 'copy-1.png'));
    copyFileSync(path.join(src, 'bag', first), path.join(src, 'bag', 'copy-2.png'));
    out = path.join(work, 'out');
    result = await importDataset(base(src, out, { split: [80, 10, 10], seed: 3 }));
  }, 120_000);

  test('stratified: every class gets its 80/10/10 share; the train file is train then validation', () => {
    const ds = readDataset(out);
    const m = result.manifest;
    expect(m.splits.train + m.splits.validation).toBe(ds.train.count);
    expect(m.splits.test).toBe(ds.test.count);
    expect(ds.train.count + ds.test.count).toBe(602);
    for (const c of m.perClass) {
      const n = c.train + c.validation + c.test;
      expect(Math.abs(c.test - n * 0.1)).toBeLessThanOrEqual(2); // duplicates move as one unit
      expect(Math.abs(c.validation - n * 0.1)).toBeLessThanOrEqual(2);
    }
    // The validation part is the LAST splits.validation images of the training file, with the per-class counts.
    const tail = ds.trainLabels.subarray(m.splits.train);
    for (const c of m.perClass) expect(tail.filter((l) => l === c.label).length).toBe(c.validation);
  });

  test('duplicates are reported and kept in one split', () => {
    expect(result.manifest.duplicates).toMatchObject({ groups: 1, extraCopies: 2 });
    expect(result.notes.join('\n')).toMatch(
      /duplicates: 2 image\(s\) are identical copies of another \(1 group\(s\), e\.g\. bag\/\S+ = bag\/copy-1\.png = bag\/copy-2\.png\)/,
    );
    const ds = readDataset(out);
    const key = (p: Uint8Array) => Buffer.from(p).toString('base64');
    const inTrain = new Set(
      Array.from({ length: ds.train.count }, (_, k) => key(ds.train.pixels.subarray(k * 784, k * 784 + 784))),
    );
    for (let k = 0; k < ds.test.count; k++)
      expect(inTrain.has(key(ds.test.pixels.subarray(k * 784, k * 784 + 784)))).toBe(false);
  });

  test('the same seed gives byte-identical idx files', async () => {
    const again = await importDataset(
      base(result.manifest.source.path, `${out}-again`, { split: [80, 10, 10], seed: 3 }),
    );
    expect(again.manifest.files).toEqual(result.manifest.files);
  }, 120_000);

  test('preview.png decodes, has the expected size, and its binarized tiles equal the idx bits', async () => {
    const { data, info } = await sharp(readFileSync(path.join(out, 'preview.png')))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const layout = previewLayout(FASHION_CLASSES.length);
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const ds = readDataset(out);
    // The samples: the first PREVIEW_PER_CLASS images of each class in file order (train file, then test file).
    const order = [
      ...Array.from({ length: ds.train.count }, (_, k) => ({
        px: ds.train.pixels.subarray(k * 784, k * 784 + 784),
        l: must(ds.trainLabels[k], 'ds.trainLabels[k]'),
      })),
      ...Array.from({ length: ds.test.count }, (_, k) => ({
        px: ds.test.pixels.subarray(k * 784, k * 784 + 784),
        l: must(ds.testLabels[k], 'ds.testLabels[k]'),
      })),
    ];
    const seen = new Array(FASHION_CLASSES.length).fill(0);
    let checked = 0;
    for (const { px, l } of order) {
      const column = seen[l]++;
      if (column >= PREVIEW_PER_CLASS) continue;
      for (const binarized of [false, true]) {
        const { left, top } = layout.tile(l, column, binarized);
        for (let y = 0; y < 28; y++)
          for (let x = 0; x < 28; x++) {
            const v = must(px[y * 28 + x], 'px[y * 28 + x]');
            const want = binarized ? (v >= 128 ? 255 : 0) : v;
            for (const [dy, dx] of [
              [0, 0],
              [PREVIEW_SCALE - 1, PREVIEW_SCALE - 1],
            ] as const) {
              const at =
                ((top + y * PREVIEW_SCALE + dy) * info.width + left + x * PREVIEW_SCALE + dx) * info.channels;
              if (data[at] !== want)
                throw new Error(
                  `class ${l} tile ${column} ${binarized ? 'binarized' : 'grey'} (${x},${y}): ${data[at]} != ${want}`,
                );
            }
          }
      }
      checked++;
    }
    expect(checked).toBe(FASHION_CLASSES.length * PREVIEW_PER_CLASS);
  });
});
