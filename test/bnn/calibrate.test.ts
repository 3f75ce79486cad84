import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { must } from '../../lib/defined';
import { runCli } from '../support/cli';
import { FASHION_DIR, FASHION_NPZ, FASHION_SAMPLE_DIR, readFolder, removeDir, tmpDir } from './helpers';

// Each test starts the real CLI (or reads whole datasets): slow on a busy shared machine.
jest.setTimeout(300_000);

const trainImages = path.join(FASHION_DIR, 'train-images-idx3-ubyte.gz');
const trainLabels = path.join(FASHION_DIR, 'train-labels-idx1-ubyte.gz');
const testImages = path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz');
const testLabels = path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz');

let dir: string;
beforeAll(() => {
  dir = tmpDir('bnn-calibrate-');
});
afterAll(() => removeDir(dir));

test('calibrating on the validation split raises board-rule test accuracy to >= 84.3 %, changing only 3-*-thres.bin', async () => {
  const plain = path.join(dir, 'plain');
  const calibrated = path.join(dir, 'calibrated');
  expect((await runCli(['convert', FASHION_NPZ, '--out', plain])).status).toBe(0);
  const c = await runCli([
    'convert',
    FASHION_NPZ,
    '--out',
    calibrated,
    '--calibrate-images',
    trainImages,
    '--calibrate-labels',
    trainLabels,
    '--json',
  ]);
  expect(c.stderr).toBe('');
  expect(c.status).toBe(0);
  const summary = JSON.parse(c.stdout);
  expect(summary.calibration.images).toBe(10000);
  expect(summary.calibration.range).toMatch(/validation split 50000\.\.59999/);
  expect(summary.calibration.after.accuracy).toBeGreaterThan(summary.calibration.before.accuracy);

  const a = readFolder(path.join(plain, 'fashion-mnist', 'lfcW1A1'));
  const b = readFolder(path.join(calibrated, 'fashion-mnist', 'lfcW1A1'));
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  const differing = [...a.keys()].filter(
    (n) => !Buffer.from(must(a.get(n), n)).equals(Buffer.from(must(b.get(n), n))),
  );
  expect(differing.length).toBeGreaterThan(0);
  expect(differing.every((n) => /^3-\d+-thres\.bin$/.test(n))).toBe(true);

  const v = await runCli([
    'verify',
    path.join(calibrated, 'fashion-mnist', 'lfcW1A1'),
    '--images',
    testImages,
    '--labels',
    testLabels,
    '--json',
  ]);
  const report = JSON.parse(v.stdout);
  expect(report.accuracy).toBeGreaterThanOrEqual(84.3);
}, 600_000);

test.each([
  ['images', testImages, trainLabels, /t10k-images-idx3-ubyte\.gz is the fashion-mnist test set/],
  ['labels', trainImages, testLabels, /t10k-labels-idx1-ubyte\.gz is the fashion-mnist test set/],
])(
  'calibration refuses the test %s of a known dataset (by checksum)',
  async (_what, images, labels, message) => {
    const out = path.join(dir, `refused-${_what}`);
    const r = await runCli([
      'convert',
      FASHION_NPZ,
      '--out',
      out,
      '--calibrate-images',
      images,
      '--calibrate-labels',
      labels,
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  },
  300_000,
);

test('calibration needs both files', async () => {
  const r = await runCli([
    'convert',
    FASHION_NPZ,
    '--out',
    path.join(dir, 'half'),
    '--calibrate-images',
    path.join(FASHION_SAMPLE_DIR, 'train-images-idx3-ubyte.gz'),
  ]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/^error: --calibrate-images and --calibrate-labels go together/);
  expect(readFileSync(FASHION_NPZ).length).toBeGreaterThan(0);
}, 120_000);
