import { cpSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  compareOverlayWithFloat,
  createOverlaySimulator,
  decodeOverlayFiles,
  detectNetwork,
  firstMaxScore,
  highestSetBit,
  hostInputByte,
  loadOverlayModel,
  maxPositiveScore,
  type OverlayName,
  readCifarRecords,
  readIdxImages,
  readIdxLabels,
  verifyOverlay,
  writeCifarRecords,
} from '../../lib/bnn';
import { InputFormatError } from '../../lib/errors';
import { runCli, SHARED_DATA } from '../support/cli';
import { MNIST_IMAGES, MNIST_LABELS, readFolder, removeDir, tmpDir } from './helpers';

// Runs whole test sets and the real CLI: slow on a busy shared machine.
jest.setTimeout(300_000);

const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const BOARD = path.join(SHARED_DATA, 'cnv-board-images');
interface BoardImage {
  file: string;
  expected_scores: Partial<Record<OverlayName, number[]>>;
}
const manifest = JSON.parse(readFileSync(path.join(BOARD, 'manifest.json'), 'utf8')) as BoardImage[];
const boardCases = manifest.flatMap((m) =>
  Object.entries(m.expected_scores).map(([network, scores]) => ({
    file: m.file,
    network: network as OverlayName,
    scores: scores as number[],
  })),
);

/** Four of the notebook photos, in this order, and their records concatenated: one CIFAR-10 records file. */
const FOUR = ['deer-notebook.bin', 'car-notebook.bin', 'airplane-notebook.bin', 'bird-notebook.bin'];
const fourRecords = (): Buffer => Buffer.concat(FOUR.map((f) => readFileSync(path.join(BOARD, f))));

describe('the board-printed scores of the cnv-board-images, number for number', () => {
  test('the manifest covers deer on all three CIFAR-10 overlays and car, airplane, bird on cnvW1A1', () => {
    expect(boardCases.map((c) => `${c.file}:${c.network}`).sort()).toEqual([
      'airplane-notebook.bin:cnvW1A1',
      'bird-notebook.bin:cnvW1A1',
      'car-notebook.bin:cnvW1A1',
      'deer-notebook.bin:cnvW1A1',
      'deer-notebook.bin:cnvW1A2',
      'deer-notebook.bin:cnvW2A2',
    ]);
  });

  test.each(boardCases)('$file on $network', ({ file, network, scores }) => {
    const params = decodeOverlayFiles(readFolder(path.join(PARAMS, 'cifar10', network)), network, network);
    const records = readCifarRecords(new Uint8Array(readFileSync(path.join(BOARD, file))), file);
    const lanes = new Int32Array(10);
    const out = new Uint8Array(1);
    createOverlaySimulator(params).run({ kind: 'cifar', pixels: records.pixels }, 0, 1, out, lanes);
    expect(Array.from(lanes)).toEqual(scores);
    expect(out[0]).toBe(maxPositiveScore(scores, 10));
  });

  test('verify --scores --json prints the same scores through the CLI, labels from the records', async () => {
    const dir = tmpDir('bnn-board-');
    try {
      const all = path.join(dir, 'four.bin');
      writeFileSync(all, fourRecords());
      const r = await runCli([
        'verify',
        path.join(PARAMS, 'cifar10', 'cnvW1A1'),
        '--images',
        all,
        '--scores',
        '--json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.network).toBe('cnvW1A1');
      expect(report.scores).toEqual(
        FOUR.map((f) => manifest.find((m) => m.file === f)?.expected_scores.cnvW1A1),
      );
      expect(report.total).toBe(4);
      // deer 4, car 1, airplane 0, bird 2: the records' labels are the true classes and the board gets all four.
      expect(report.correct).toBe(4);
    } finally {
      removeDir(dir);
    }
  });
});

describe('lfcW1A2 on the MNIST test set', () => {
  test("the shipped folder scores 98.49 % under the board's batch rule (the BNN-PYNQ notebook's figure)", async () => {
    const r = await runCli([
      'verify',
      path.join(PARAMS, 'mnist', 'lfcW1A2'),
      '--images',
      MNIST_IMAGES,
      '--labels',
      MNIST_LABELS,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.network).toBe('lfcW1A2');
    expect([report.correct, report.total]).toEqual([9849, 10000]);
    expect(report.accuracy.toFixed(2)).toBe('98.49');
  });
});

test('verifyOverlay refuses a label the folder has no class for, naming the labels', () => {
  const params = decodeOverlayFiles(readFolder(path.join(PARAMS, 'mnist', 'lfcW1A2')), 'lfcW1A2', 'lfcW1A2');
  const images = readIdxImages(new Uint8Array(readFileSync(MNIST_IMAGES)), 'images');
  const input = { kind: 'mnist' as const, pixels: images.pixels.subarray(0, 2 * 784) };
  expect(() => verifyOverlay(params, input, Uint8Array.of(3, 10), { labelsName: 'my-labels' })).toThrow(
    new InputFormatError('my-labels', 'label 10 at image 1, but the param folder has 10 classes'),
  );
});

describe('which overlay a folder holds', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('bnn-detect-');
  });
  afterAll(() => removeDir(dir));

  test.each<[string, OverlayName]>([
    ['mnist/lfcW1A1', 'lfcW1A1'],
    ['mnist/lfcW1A2', 'lfcW1A2'],
    ['cifar10/cnvW1A1', 'cnvW1A1'],
    ['cifar10/cnvW1A2', 'cnvW1A2'],
    ['cifar10/cnvW2A2', 'cnvW2A2'],
  ])('%s renamed: its file sizes say %s', (folder, network) => {
    expect(detectNetwork(readFolder(path.join(PARAMS, folder)), 'my-params')).toBe(network);
  });

  test('--predictions writes the batch-rule class of every record, one per line', async () => {
    const out = path.join(dir, 'pred.txt');
    const four = path.join(dir, 'four-pred.bin');
    writeFileSync(four, fourRecords());
    const r = await runCli([
      'verify',
      path.join(PARAMS, 'cifar10', 'cnvW1A1'),
      '--images',
      four,
      '--predictions',
      out,
    ]);
    expect(r.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('4\n1\n0\n2\n');
  });

  test('a renamed cnvW1A2 folder verifies through the CLI by its sizes', async () => {
    const d = path.join(dir, 'renamed');
    cpSync(path.join(PARAMS, 'cifar10', 'cnvW1A2'), d, { recursive: true });
    const r = await runCli(['verify', d, '--images', path.join(BOARD, 'deer-notebook.bin'), '--scores']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('cnvW1A2 board rule');
    expect(r.stdout).toContain('[-20, -46, -38, -6, 268, 6, -14, -28, -38, -30]');
  });

  const deer = path.join(BOARD, 'deer-notebook.bin');
  const refusals: Array<[string, () => string[], RegExp]> = [
    [
      '--labels for a CNV folder',
      () => [path.join(PARAMS, 'cifar10', 'cnvW1A1'), '--images', deer, '--labels', MNIST_LABELS],
      /--labels: CIFAR-10 records carry their own labels; drop --labels for cnvW1A1/,
    ],
    [
      'a file that is not whole CIFAR records',
      () => {
        const f = path.join(dir, 'short.bin');
        writeFileSync(f, readFileSync(deer).subarray(0, 3000));
        return [path.join(PARAMS, 'cifar10', 'cnvW1A1'), '--images', f];
      },
      /short\.bin: 3000 bytes is not a whole number of CIFAR-10 records/,
    ],
    [
      'an unknown --network',
      () => [path.join(PARAMS, 'cifar10', 'cnvW1A1'), '--images', deer, '--network', 'cnvW9A9'],
      /--network cnvW9A9: choose one of/,
    ],
    [
      '--network that does not fit the files',
      () => [path.join(PARAMS, 'cifar10', 'cnvW1A1'), '--images', deer, '--network', 'cnvW2A2'],
      /cnvW1A1\/0-0-weights\.bin: 288 bytes, expected 576 for cnvW2A2/,
    ],
    [
      'a truncated file in a CNV folder',
      () => {
        const d = path.join(dir, 'cnvW1A1');
        cpSync(path.join(PARAMS, 'cifar10', 'cnvW1A1'), d, { recursive: true });
        truncateSync(path.join(d, '5-0-thres.bin'), 100);
        return [d, '--images', deer];
      },
      /cnvW1A1\/5-0-thres\.bin: 100 bytes, expected 2048 for cnvW1A1/,
    ],
    [
      "labels beyond the folder's classes",
      () => {
        const d = path.join(dir, 'lfcW1A2');
        cpSync(path.join(PARAMS, 'mnist', 'lfcW1A2'), d, { recursive: true });
        writeFileSync(path.join(d, 'classes.txt'), 'zero\none\ntwo\n');
        return [d, '--images', MNIST_IMAGES, '--labels', MNIST_LABELS];
      },
      /t10k-labels-idx1-ubyte(\.gz)?: label 7 at image 0, but the param folder has 3 classes/,
    ],
    [
      'an LFC folder without --labels',
      () => [path.join(PARAMS, 'mnist', 'lfcW1A2'), '--images', MNIST_IMAGES],
      /--labels <idx1> is required for lfcW1A2/,
    ],
  ];
  test.each(refusals)('refuses %s: one error line, exit 2', async (_name, args, message) => {
    const r = await runCli(['verify', ...args()]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('CIFAR-10 records and the host input rounding', () => {
  test('write then read returns the same labels and pixels, for any number of records', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer(), (count, seed) => {
        const labels = Uint8Array.from({ length: count }, (_, i) => (seed + i) & 255);
        const pixels = Uint8Array.from({ length: count * 3072 }, (_, i) => (seed * 31 + i * 7) & 255);
        const back = readCifarRecords(writeCifarRecords({ count, labels, pixels }), 'r.bin');
        expect(back.count).toBe(count);
        expect(Buffer.from(back.labels).equals(Buffer.from(labels))).toBe(true);
        expect(Buffer.from(back.pixels).equals(Buffer.from(pixels))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  test('any size that is not a positive multiple of 3,073 bytes is refused with the file name', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * 3073 }), (n) => {
        fc.pre(n === 0 || n % 3073 !== 0);
        expect(() => readCifarRecords(new Uint8Array(n), 'x.bin')).toThrow(InputFormatError);
        expect(() => readCifarRecords(new Uint8Array(n), 'x.bin')).toThrow(
          /^x\.bin: \d+ bytes is not a whole number/,
        );
      }),
    );
  });

  test('the closed form equals ap_fixed<8,1> round-half-up of the float -1 + 2p/255, for all 256 values', () => {
    for (let p = 0; p < 256; p++) {
      const v = Math.fround(-1 + (2 * p) / 255);
      const k = Math.max(-128, Math.min(127, Math.floor(v * 128 + 0.5)));
      expect([p, hostInputByte(p)]).toEqual([p, k]);
      expect(hostInputByte(p)).not.toBe(0);
    }
  });
});

describe('decision rules', () => {
  test('CNV batch rule: lowest-index maximum, class 0 when every score <= 0', () => {
    expect(maxPositiveScore([-20, -46, -38, -6, 268, 6, -14, -28, -38, -30], 10)).toBe(4);
    expect(maxPositiveScore([3, 7, 7, 1], 4)).toBe(1);
    expect(maxPositiveScore([-3, -1, 0, -7], 4)).toBe(0);
    expect(maxPositiveScore([-3, -1, -2, 5], 3)).toBe(0);
    // The single-image call picks the maximum even when it is negative.
    expect(firstMaxScore([-3, -1, 0, -7], 4)).toBe(2);
  });

  test('LFC batch rule: highest set bit among the first C lanes, 0 if none', () => {
    expect(highestSetBit([0, 1, 0, 1, 0], 5)).toBe(3);
    expect(highestSetBit([0, 1, 0, 1, 0], 3)).toBe(1);
    expect(highestSetBit([0, 0, 0], 3)).toBe(0);
  });
});

describe('verify --against: the float model in overlay and training-graph order, differences by cause', () => {
  const NPZ = path.join(SHARED_DATA, 'npz');
  const records = readCifarRecords(new Uint8Array(fourRecords()), 'four.bin');
  const explained = /exactly at the step: a tie|gamma < 0 at neuron \d+: finnthesizer stores ceil/;

  test.each<OverlayName>(['cnvW1A1', 'cnvW1A2', 'cnvW2A2'])(
    '%s: pool-order differences only in gamma < 0 channels of layer 1; every other difference explained',
    (network) => {
      const params = decodeOverlayFiles(readFolder(path.join(PARAMS, 'cifar10', network)), network, network);
      const npz = `cifar10-${network}-reconstructed.npz`;
      const model = loadOverlayModel(new Uint8Array(readFileSync(path.join(NPZ, npz))), npz, network);
      const c = compareOverlayWithFloat(
        model,
        params,
        { kind: 'cifar', pixels: records.pixels },
        records.labels,
      );
      expect(c.total).toBe(4);
      expect(c.hardware.correct).toBe(
        verifyOverlay(params, { kind: 'cifar', pixels: records.pixels }, records.labels).correct,
      );
      const [l1, l3] = c.poolOutputs;
      expect([l1?.layer, l1?.outputs, l3?.layer, l3?.outputs]).toEqual([
        1,
        4 * 14 * 14 * 64,
        3,
        4 * 5 * 5 * 128,
      ]);
      // Layer 1 sees identical inputs in both orders: only channels with gamma < 0 can differ, and they do.
      expect(l1?.differing).toBeGreaterThan(0);
      expect(l1?.differingNegativeGamma).toBe(l1?.differing);
      expect(c.disagreements).toHaveLength(c.causes.thresholdRounding);
      for (const d of c.disagreements) expect(d.reason).toMatch(explained);
    },
  );

  test('lfcW1A2 on 1,000 MNIST images: no pool, and every float-vs-hardware difference is explained', () => {
    const params = decodeOverlayFiles(
      readFolder(path.join(PARAMS, 'mnist', 'lfcW1A2')),
      'lfcW1A2',
      'lfcW1A2',
    );
    const npz = 'mnist-lfcW1A2-reconstructed.npz';
    const model = loadOverlayModel(new Uint8Array(readFileSync(path.join(NPZ, npz))), npz, 'lfcW1A2');
    const images = readIdxImages(new Uint8Array(readFileSync(MNIST_IMAGES)), 'images');
    const labels = readIdxLabels(new Uint8Array(readFileSync(MNIST_LABELS)), 'labels');
    const input = { kind: 'mnist' as const, pixels: images.pixels.subarray(0, 1000 * 784) };
    const c = compareOverlayWithFloat(model, params, input, labels.labels.subarray(0, 1000));
    expect(c.poolOutputs).toEqual([]);
    expect(c.causes.poolOrder).toBe(0);
    expect(c.training).toEqual(c.overlayOrder);
    expect(c.floatBoardRule.correct - c.hardware.correct).toBeLessThanOrEqual(c.causes.thresholdRounding);
    for (const d of c.disagreements) expect(d.reason).toMatch(explained);
  });

  test('through the CLI: the report names each cause with its count, --json carries them', async () => {
    const dir = tmpDir('bnn-against-');
    try {
      const all = path.join(dir, 'four.bin');
      writeFileSync(all, fourRecords());
      const folder = path.join(PARAMS, 'cifar10', 'cnvW1A2');
      const npz = path.join(NPZ, 'cifar10-cnvW1A2-reconstructed.npz');
      const text = await runCli(['verify', folder, '--images', all, '--against', npz]);
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(
        /training graph \(argmax of the last batch norm; pool, then BN\) +\d+\.\d\d %/,
      );
      expect(text.stdout).toMatch(
        /pool order \(training pools before batch norm: a min in gamma < 0 channels\) +\d+/,
      );
      expect(text.stdout).toMatch(
        /layer 1 \(max-pooled\): (\d+) of 50176 outputs differ between the two orders, \1 of them in gamma < 0 channels/,
      );
      const json = await runCli(['verify', folder, '--images', all, '--against', npz, '--json']);
      const report = JSON.parse(json.stdout);
      expect(Object.keys(report.against.causes)).toEqual([
        'poolOrder',
        'lastLayerAndRule',
        'thresholdRounding',
      ]);
      expect(report.against.hardware.correct).toBe(report.correct);
    } finally {
      removeDir(dir);
    }
  });
});
