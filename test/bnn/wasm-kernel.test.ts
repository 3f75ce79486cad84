import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createOverlaySimulator,
  createSimulator,
  decodeOverlayFiles,
  type OverlayName,
  paramsFromFiles,
  readIdxImages,
} from '../../lib/bnn';
import { runParallel, workersFor } from '../../lib/bnn/parallel';
import { popcount32 } from '../../lib/bnn/simulate';
import { instantiateBnnKernel, quadWordOffset } from '../../lib/bnn/wasm-kernel';
import { mulberry32 } from '../../lib/dataset/random';
import { must } from '../../lib/defined';
import { SHARED_DATA } from '../support/cli';
import { MNIST_IMAGES, PARAMS_DIR, readFolder } from './helpers';

// Whole param folders and hundreds of images through two engines: slow on a busy shared machine.
jest.setTimeout(300_000);

// The build script is CommonJS (it runs before any TypeScript tooling).
const build = require('../../scripts/build-wasm.js') as {
  generate(wat: string): Promise<string>;
  SOURCE: string;
  OUTPUT: string;
};

test('the checked-in kernel module is exactly what wabt assembles from lib/bnn/kernels/bnn.wat', async () => {
  const expected = await build.generate(readFileSync(build.SOURCE, 'utf8'));
  expect(readFileSync(build.OUTPUT, 'utf8')).toBe(expected);
});

const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const BOARD = path.join(SHARED_DATA, 'cnv-board-images');
const mnist = readIdxImages(new Uint8Array(readFileSync(MNIST_IMAGES)), 'mnist');

/** The four board images followed by `extra` pseudo-random 32x32 RGB images. */
function cifarPixels(extra: number): Uint8Array {
  const files = ['deer', 'car', 'airplane', 'bird'].map((n) =>
    readFileSync(path.join(BOARD, `${n}-notebook.bin`)),
  );
  const r = mulberry32(7);
  const out = new Uint8Array((files.length + extra) * 3072);
  files.forEach((f, i) => {
    out.set(f.subarray(1), i * 3072);
  });
  for (let i = files.length * 3072; i < out.length; i++) out[i] = Math.floor(r() * 256);
  return out;
}

test.each<[OverlayName, string]>([
  ['cnvW1A1', 'cifar10/cnvW1A1'],
  ['cnvW1A2', 'cifar10/cnvW1A2'],
  ['cnvW2A2', 'cifar10/cnvW2A2'],
  ['lfcW1A2', 'mnist/lfcW1A2'],
  ['lfcW1A1', 'mnist/lfcW1A1'],
])('%s: the WebAssembly and plain-JS engines give the same lanes and classes', (network, folder) => {
  const params = decodeOverlayFiles(readFolder(path.join(PARAMS, folder)), network, network);
  const cnv = network.startsWith('cnv');
  const count = cnv ? 12 : 300;
  const input = cnv
    ? { kind: 'cifar' as const, pixels: cifarPixels(count - 4) }
    : { kind: 'mnist' as const, pixels: mnist.pixels };
  const run = (engine: 'wasm' | 'js') => {
    const classes = new Uint8Array(count);
    const lanes = new Int32Array(count * params.classes.length);
    createOverlaySimulator(params, { engine }).run(input, 0, count, classes, lanes);
    return { classes: Array.from(classes), lanes: Array.from(lanes) };
  };
  const wasm = run('wasm');
  expect(run('js')).toEqual(wasm);
  // Not a degenerate network: the images do not all get one class.
  expect(new Set(wasm.classes).size).toBeGreaterThan(1);
});

test('lfcW1A1 through the overlay table gives the same classes as the lfcW1A1 simulator on 2,000 MNIST images', () => {
  const files = readFolder(PARAMS_DIR);
  const table = createOverlaySimulator(decodeOverlayFiles(files, 'lfcW1A1', 'lfcW1A1'));
  const own = createSimulator(paramsFromFiles(files, 'lfcW1A1'));
  const a = new Uint8Array(2000);
  const b = new Uint8Array(2000);
  table.run({ kind: 'mnist', pixels: mnist.pixels }, 0, 2000, a);
  own.run(mnist.pixels, 0, 2000, b);
  expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
});

test('two worker threads give exactly the classes and lanes of one thread (cnvW1A1, 12 images)', async () => {
  const files = readFolder(path.join(PARAMS, 'cifar10', 'cnvW1A1'));
  const params = decodeOverlayFiles(files, 'cnvW1A1', 'cnvW1A1');
  const input = { kind: 'cifar' as const, pixels: cifarPixels(8) };
  const classes = new Uint8Array(12);
  const lanes = new Int32Array(12 * 10);
  createOverlaySimulator(params).run(input, 0, 12, classes, lanes);
  const run = await runParallel(files, 'cnvW1A1', input, 12, 10, 2);
  expect(run.workers).toBe(2);
  expect(Array.from(run.classes)).toEqual(Array.from(classes));
  expect(Array.from(run.lanes)).toEqual(Array.from(lanes));
  expect(workersFor('cnvW1A1', 10_000, 2)).toBe(2);
  expect(workersFor('cnvW1A1', 4, 2)).toBe(1);
  expect(workersFor('lfcW1A2', 10_000, 1)).toBe(1);
  expect(workersFor('lfcW1A2', 10_000, 2)).toBe(1);
  expect(workersFor('lfcW1A2', 60_000, 2)).toBe(2);
});

test('lfcW1A1 on two worker threads (its own engine) equals one thread on 1,001 images', async () => {
  const files = readFolder(PARAMS_DIR);
  const own = createSimulator(paramsFromFiles(files, 'lfcW1A1'));
  const classes = new Uint8Array(1001);
  own.run(mnist.pixels, 0, 1001, classes);
  const js = new Uint8Array(1001);
  createSimulator(paramsFromFiles(files, 'lfcW1A1'), { engine: 'js' }).run(mnist.pixels, 0, 1001, js);
  expect(Buffer.from(js).equals(Buffer.from(classes))).toBe(true);
  const run = await runParallel(files, 'lfcW1A1', { kind: 'mnist', pixels: mnist.pixels }, 1001, 10, 2);
  expect(Buffer.from(run.classes).equals(Buffer.from(classes))).toBe(true);
});

test('a worker that fails while setting up rejects runParallel with its error, and leaves no unhandled rejection', async () => {
  const files = readFolder(PARAMS_DIR);
  files.delete('0-0-weights.bin');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await expect(
      runParallel(files, 'lfcW1A1', { kind: 'mnist', pixels: mnist.pixels }, 1001, 10, 2),
    ).rejects.toThrow(/0-0-weights\.bin/);
    // Both workers' errors have had time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  expect(unhandled).toEqual([]);
});

test('xnor_threshold: every neuron of a quad-layout matrix fires exactly when popcount(w xor x) < its limit', () => {
  // 96 neurons of 13 64-bit words (the lfcW1A1 first layer's width, 832 bits), random rows and input; each
  // neuron's limit is its own mismatch count plus -1, 0 or +1, so the strict comparison and every bit
  // position count.
  const neurons = 96;
  const words64 = 13;
  const words = words64 * 2;
  const r = mulberry32(11);
  const rows = Uint32Array.from({ length: neurons * words }, () => Math.floor(r() * 2 ** 32));
  const x = Uint32Array.from({ length: words }, () => Math.floor(r() * 2 ** 32));
  const mismatches = (n: number) => {
    let pc = 0;
    for (let k = 0; k < words; k++)
      pc += popcount32((must(rows[n * words + k], 'row word') ^ must(x[k], 'input word')) >>> 0);
    return pc;
  };
  const limits = Int32Array.from({ length: neurons }, (_, n) => mismatches(n) + ((n % 3) - 1));
  const W = 0;
  const X = neurons * words * 4;
  const LIMIT = X + words * 4;
  const OUT = LIMIT + neurons * 4;
  const kernel = instantiateBnnKernel(OUT + neurons / 8);
  const u32 = new Uint32Array(kernel.memory.buffer);
  for (let n = 0; n < neurons; n++)
    for (let k = 0; k < words; k++)
      u32[W / 4 + quadWordOffset(n, k, words64)] = must(rows[n * words + k], 'row word');
  u32.set(x, X / 4);
  new Int32Array(kernel.memory.buffer).set(limits, LIMIT / 4);
  kernel.xnorThreshold(W, X, OUT, LIMIT, neurons, words64);
  const fired = Array.from(
    { length: neurons },
    (_, n) => (must(u32[OUT / 4 + (n >>> 5)], 'output word') >>> (n & 31)) & 1,
  );
  // limit = mismatches - 1 or mismatches: not below; mismatches + 1: below, so it fires.
  expect(fired).toEqual(Array.from({ length: neurons }, (_, n) => (n % 3 === 2 ? 1 : 0)));
});
