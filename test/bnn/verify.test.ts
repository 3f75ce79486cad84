import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  boardClass,
  CLASS_PRESETS,
  compareWithFloatModel,
  convertLfc,
  createSimulator,
  loadLfcModel,
  paramsFromFiles,
  parseLfcModel,
  readIdxImages,
  readIdxLabels,
  sliceImages,
  sliceLabels,
  verify,
} from '../../lib/bnn';
import { must } from '../../lib/defined';
import { runCli } from '../support/cli';
import {
  FASHION_DIR,
  FASHION_NPZ,
  MNIST_IMAGES,
  MNIST_LABELS,
  PARAMS_DIR,
  randomLfcArrays,
  readFolder,
  removeDir,
  tmpDir,
} from './helpers';

// Each test starts the real CLI (or reads whole datasets): slow on a busy shared machine.
jest.setTimeout(300_000);

const mnistImages = readIdxImages(new Uint8Array(readFileSync(MNIST_IMAGES)), MNIST_IMAGES);
const mnistLabels = readIdxLabels(new Uint8Array(readFileSync(MNIST_LABELS)), MNIST_LABELS);
const shipped = paramsFromFiles(readFolder(PARAMS_DIR), PARAMS_DIR);

test("BNN-PYNQ's shipped MNIST params score 98.40 % on the MNIST test set (the board's figure)", () => {
  const r = verify(shipped, mnistImages, mnistLabels);
  expect(r.total).toBe(10000);
  expect(r.correct).toBe(9840);
  expect(r.accuracy).toBeCloseTo(98.4, 10);
  expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
  expect(r.perClass.map((c) => c.total)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  expect(r.perClass.reduce((a, c) => a + c.correct, 0)).toBe(9840);
  expect(r.microsecondsPerImage).toBeGreaterThan(0);
});

test('the WebAssembly engine and the plain JavaScript engine agree bit for bit', () => {
  // A random 64-class model exercises both output words and many firing patterns.
  const m = randomLfcArrays(64, 5);
  const arrays = new Map(
    m.data.map((d, k) => [
      `arr_${k}`,
      { name: `arr_${k}`, dtype: '<f4' as const, shape: must(m.shapes[k], 'm.shapes[k]'), data: d },
    ]),
  );
  const random = convertLfc(
    parseLfcModel(arrays, 'r.npz'),
    Array.from({ length: 64 }, (_, i) => `c${i}`),
  ).params;
  for (const params of [shipped, random]) {
    const n = 300;
    const a = new Uint8Array(n);
    const b = new Uint8Array(n);
    const bitsA = new Uint32Array(2 * n);
    const bitsB = new Uint32Array(2 * n);
    createSimulator(params, { engine: 'wasm' }).run(mnistImages.pixels, 0, n, a, bitsA);
    createSimulator(params, { engine: 'js' }).run(mnistImages.pixels, 0, n, b, bitsB);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(bitsA)).toEqual(Array.from(bitsB));
    const w = createSimulator(params, { engine: 'wasm' });
    const j = createSimulator(params, { engine: 'js' });
    for (const layer of [1, 2, 3])
      expect(Array.from(w.layerInput(mnistImages.pixels, 7, layer))).toEqual(
        Array.from(j.layerInput(mnistImages.pixels, 7, layer)),
      );
  }
});

test('board class rule: highest set bit among the first C outputs, 0 when none', () => {
  expect(boardClass(0, 0, 10)).toBe(0);
  expect(boardClass(0b1000000101, 0, 10)).toBe(9);
  expect(boardClass(0b10000000000, 0, 10)).toBe(0); // bit 10 is masked away for C = 10
  expect(boardClass(0b110, 0, 3)).toBe(2);
  expect(boardClass(1, 1 << 31, 64)).toBe(63);
  expect(boardClass(1, 1 << 31, 63)).toBe(0);
  expect(boardClass(0x80000000, 0, 32)).toBe(31);
});

describe('CLI verify', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('bnn-verify-');
  });
  afterAll(() => removeDir(dir));

  test('--json and --predictions on the shipped MNIST params', async () => {
    const predictions = path.join(dir, 'pred.txt');
    const r = await runCli([
      'verify',
      PARAMS_DIR,
      '--images',
      MNIST_IMAGES,
      '--labels',
      MNIST_LABELS,
      '--json',
      '--predictions',
      predictions,
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ accuracy: 98.4, correct: 9840, total: 10000 });
    expect(report.perClass).toHaveLength(10);
    expect(report.confusion).toHaveLength(10);
    expect(typeof report.microsecondsPerImage).toBe('number');
    const lines = readFileSync(predictions, 'utf8').trimEnd().split('\n').map(Number);
    expect(lines).toHaveLength(10000);
    const expected = new Uint8Array(10000);
    createSimulator(shipped).run(mnistImages.pixels, 0, 10000, expected);
    expect(lines).toEqual(Array.from(expected));
  }, 300_000);

  test('--against: the Fashion-MNIST model scores 83.81 % on the board rule and 84.65 % argmax, and agrees image by image', async () => {
    const out = path.join(dir, 'fashion');
    const c = await runCli(['convert', FASHION_NPZ, '--out', out]);
    expect(c.status).toBe(0);
    const r = await runCli([
      'verify',
      path.join(out, 'fashion-mnist', 'lfcW1A1'),
      '--images',
      path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'),
      '--labels',
      path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'),
      '--against',
      FASHION_NPZ,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(report.correct).toBe(8381);
    expect(report.against.hardware.correct).toBe(8381);
    expect(report.against.boardRule.correct).toBe(8381);
    expect(report.against.argmax.correct).toBe(8465);
    expect(report.against.agreement.same).toBe(10000);
    expect(report.against.disagreements).toEqual([]);
    // Most of the gap: images where no output bit fires (read as class 0).
    expect(report.noBitFired).toBe(532);
    expect(report.perClass.map((p: { name: string }) => p.name)).toEqual(CLASS_PRESETS['fashion-mnist']);
  }, 600_000);
});

test('compareWithFloatModel lists and explains every image where the param folder and the float model differ', () => {
  const model = loadLfcModel(new Uint8Array(readFileSync(FASHION_NPZ)), FASHION_NPZ);
  const params = convertLfc(model, [
    ...must(CLASS_PRESETS['fashion-mnist'], 'the fashion-mnist preset'),
  ]).params;
  const images = readIdxImages(
    new Uint8Array(readFileSync(path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'))),
    'i',
  );
  const labels = readIdxLabels(
    new Uint8Array(readFileSync(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'))),
    'l',
  );
  const subset = { images: sliceImages(images, 0, 1000), labels: sliceLabels(labels, 0, 1000) };
  const exact = compareWithFloatModel(model, params, subset.images, subset.labels);
  expect(exact.agreement.same).toBe(1000);
  expect(exact.disagreements).toEqual([]);
  // Lower class 9's threshold on the "board": images where class 9 now fires but the float model says otherwise.
  const last = must(params.layers[3], 'params.layers[3]');
  const thresholds = last.thresholds.slice();
  thresholds[9] = must(thresholds[9], 'thresholds[9]') - 40;
  const edited = { ...params, layers: params.layers.map((l, i) => (i === 3 ? { ...l, thresholds } : l)) };
  const cmp = compareWithFloatModel(model, edited, subset.images, subset.labels);
  expect(cmp.disagreements.length).toBeGreaterThan(0);
  expect(cmp.agreement.same).toBe(1000 - cmp.disagreements.length);
  for (const d of cmp.disagreements) {
    expect(d.board).toBe(9);
    expect(d.reason).toMatch(
      /^layer 3 neuron 9: popcount \d+, hardware fires iff > \d+: fires; float fires iff popcount >= /,
    );
  }
});
