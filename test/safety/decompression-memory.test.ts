import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, SHARED_DATA } from '../support/cli';
import { gzipBomb, idxHeader, writeZipBomb } from './bombs';

/**
 * Peak memory of the real CLI on decompression bombs and on the largest legitimate inputs, measured by
 * GNU time (`%M`: maximum resident set size of the process). The bound the readers promise
 * (lib/input-limits.ts) is 512 MB for any input; a bomb must be refused as "too large" (or as a file whose
 * size disagrees with its header), never as "not a valid gzip file", and without inflating it whole.
 */
jest.setTimeout(300_000);

const GiB = 1 << 30;
const LIMIT_KB = 512 * 1024;
const BIN = path.join(REPO_ROOT, 'bin', 'bnn-pynq.js');
const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
const MNIST = path.join(SHARED_DATA, 'mnist');
const FASHION_FULL = '/usr/share/datasets/fashion-mnist';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bnn-bombs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI under /usr/bin/time; returns exit status, stderr (without time's line) and peak RSS in KB. */
function measured(args: string[]): { status: number; stderr: string; stdout: string; peakKb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '@@peak %M', process.execPath, BIN, ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  const lines = r.stderr.split('\n');
  const peakLine = lines.find((l) => l.startsWith('@@peak '));
  if (!peakLine) throw new Error(`no peak RSS from /usr/bin/time: ${r.stderr}`);
  const stderr = lines.filter((l) => !l.startsWith('@@peak ') && !l.startsWith('Command exited')).join('\n');
  return { status: r.status ?? -1, stderr, stdout: r.stdout, peakKb: Number(peakLine.slice(7)) };
}

const figures: string[] = [];
afterAll(() => {
  // The figures docs/convert-verify.md quotes ("Input limits").
  process.stdout.write(`peak RSS:\n${figures.join('\n')}\n`);
});

function expectRefused(r: ReturnType<typeof measured>, message: RegExp, label: string) {
  figures.push(`  ${label}: ${(r.peakKb / 1024).toFixed(0)} MB`);
  expect(r.status).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.peakKb).toBeLessThan(LIMIT_KB);
}

/** `verify` of the shipped params on `images`, with the real MNIST test labels. */
const verifyImages = (images: string): string[] => [
  'verify',
  PARAMS,
  '--images',
  images,
  '--labels',
  path.join(MNIST, 't10k-labels-idx1-ubyte.gz'),
];

test('idx gzip whose header claims 1.5 GB: refused as too large from the header alone', () => {
  const file = path.join(dir, 'claims-huge-idx3.gz');
  writeFileSync(file, gzipBomb(idxHeader([2_000_000, 28, 28]), 64 << 20));
  const r = measured(verifyImages(file));
  expectRefused(
    r,
    /^error: .*claims-huge-idx3\.gz: too large: its header says 1495 MiB of data, more than the 192 MiB limit/,
    'idx header claims 1.5 GB',
  );
});

test('idx gzip with an honest small header and 1 GiB of data behind it: stopped at the header size', () => {
  const file = path.join(dir, 'lying-idx3.gz');
  writeFileSync(file, gzipBomb(idxHeader([100, 28, 28]), GiB));
  const r = measured(verifyImages(file));
  expectRefused(
    r,
    /^error: .*lying-idx3\.gz: size disagrees with its header: header says 78416 bytes, the gzip stream holds more/,
    'idx 1 GiB behind a 100-image header',
  );
});

test('a 1 GiB gzip that is not idx: named by its magic, not inflated', () => {
  const file = path.join(dir, 'zeros.gz');
  writeFileSync(file, gzipBomb(Buffer.from('not an idx file'), GiB));
  const r = measured(verifyImages(file));
  expectRefused(r, /^error: .*zeros\.gz: wrong idx magic/, 'gzip of 1 GiB, not idx');
});

test('npz whose arrays inflate to 1 GiB: refused as too large before inflating', () => {
  const file = path.join(dir, 'bomb.npz');
  writeZipBomb(file, [{ name: 'arr_0.npy', zeros: GiB }]);
  const r = measured(['convert', file, '--out', path.join(dir, 'out-npz')]);
  expectRefused(
    r,
    /^error: .*bomb\.npz: too large: its arrays decompress to at least 1024 MiB, more than the 192 MiB limit/,
    'npz with a 1 GiB array',
  );
  expect(existsSync(path.join(dir, 'out-npz'))).toBe(false);
});

test('npz that declares 1 KiB but inflates to 1 GiB: cut at the declared size', () => {
  const file = path.join(dir, 'liar.npz');
  writeZipBomb(file, [{ name: 'arr_0.npy', zeros: GiB, declaredSize: 1024 }]);
  const r = measured(['convert', file, '--out', path.join(dir, 'out-liar')]);
  expectRefused(r, /^error: .*liar\.npz/, 'npz declaring 1 KiB, inflating to 1 GiB');
});

test('dataset zip with a 1 GiB image entry (1 MB file): listed as too large, nothing written', () => {
  const file = path.join(dir, 'images.zip');
  const png = Buffer.from('89504e470d0a1a0a', 'hex');
  writeZipBomb(file, [
    { name: 'cat/a.png', prefix: png, zeros: GiB },
    { name: 'cat/b.png', prefix: png, zeros: 1 << 20, declaredSize: 64 },
    ...'cdefgh'.split('').map((c) => ({ name: `cat/${c}.png`, prefix: png })),
    ...'abcdefgh'.split('').map((c) => ({ name: `dog/${c}.png`, prefix: png })),
  ]);
  const r = measured(['dataset', 'import', file, '--name', 'bomb', '--out', path.join(dir, 'ds')]);
  expectRefused(
    r,
    /^error: 16 unreadable or corrupt image\(s\) in .*: cat\/a\.png \(too large \(1024 MiB uncompressed; an image file may be at most 64 MiB\)\)/,
    'dataset zip with a 1 GiB entry',
  );
  expect(existsSync(path.join(dir, 'ds'))).toBe(false);
});

test('dataset zip of 12 large image entries (48 MiB each): decoded within the byte budget, under 512 MB', () => {
  const file = path.join(dir, 'large-images.zip');
  const png = Buffer.from('89504e470d0a1a0a', 'hex');
  writeZipBomb(file, [
    ...'abcdef'.split('').map((c) => ({ name: `cat/${c}.png`, prefix: png, zeros: 48 << 20 })),
    ...'abcdef'.split('').map((c) => ({ name: `dog/${c}.png`, prefix: png, zeros: 48 << 20 })),
    ...'ghij'.split('').map((c) => ({ name: `cat/${c}.png`, prefix: png })),
    ...'ghij'.split('').map((c) => ({ name: `dog/${c}.png`, prefix: png })),
  ]);
  const r = measured(['dataset', 'import', file, '--name', 'large', '--out', path.join(dir, 'ds-large')]);
  expectRefused(
    r,
    /^error: 20 unreadable or corrupt image\(s\) in /,
    'dataset zip, 12 entries of 48 MiB (576 MiB in all)',
  );
});

test('an idx file just under the cap (250,000 images, 187 MiB) is read and verified under 512 MB', () => {
  const count = 250_000;
  const pixels = count * 28 * 28;
  const images = path.join(dir, 'at-cap-idx3.gz');
  const labels = path.join(dir, 'at-cap-idx1.gz');
  const MiB = 1 << 20;
  writeFileSync(
    images,
    gzipBomb(
      Buffer.concat([idxHeader([count, 28, 28]), Buffer.alloc(pixels % MiB)]),
      pixels - (pixels % MiB),
    ),
  );
  writeFileSync(labels, gzipBomb(Buffer.concat([idxHeader([count]), Buffer.alloc(count)]), 0));
  const r = measured(['verify', PARAMS, '--images', images, '--labels', labels, '--json']);
  figures.push(`  verify, 250,000 images at the cap (187 MiB idx): ${(r.peakKb / 1024).toFixed(0)} MB`);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout).total).toBe(count);
  expect(r.peakKb).toBeLessThan(LIMIT_KB);
});

const largest = existsSync(path.join(FASHION_FULL, 'train-images-idx3-ubyte.gz'));
(largest ? test : test.skip)(
  'largest legitimate input: verify on the 60,000 Fashion-MNIST training images stays under 512 MB',
  () => {
    const r = measured([
      'verify',
      PARAMS,
      '--images',
      path.join(FASHION_FULL, 'train-images-idx3-ubyte.gz'),
      '--labels',
      path.join(FASHION_FULL, 'train-labels-idx1-ubyte.gz'),
      '--json',
    ]);
    figures.push(`  verify, 60,000 training images (47 MB idx): ${(r.peakKb / 1024).toFixed(0)} MB`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).total).toBe(60000);
    expect(r.peakKb).toBeLessThan(LIMIT_KB);
  },
);
