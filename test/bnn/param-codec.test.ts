import path from 'node:path';
import {
  decodeOverlayFiles,
  decodeParamFiles,
  encodeParamFiles,
  expectedFiles,
  OVERLAYS,
  type OverlayName,
  packLanes,
  paddedFanIn,
  paddedNeurons,
  paramsFromFiles,
  thresholdsPerNeuron,
  unpackLanes,
} from '../../lib/bnn';
import { must } from '../../lib/defined';
import { SHARED_DATA } from '../support/cli';
import { readFolder, rng } from './helpers';

/**
 * The one codec of the param folder's .bin files (lib/bnn/overlay-params.ts), for every overlay: BNN-PYNQ's
 * shipped folders decode and re-encode to the same bytes, random layers survive encode → decode, and
 * lfcW1A1's bit matrix (lib/bnn/params.ts) is the codec's form of that overlay.
 */

const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const SHIPPED: Array<[OverlayName, string]> = [
  ['lfcW1A1', 'mnist/lfcW1A1'],
  ['lfcW1A2', 'mnist/lfcW1A2'],
  ['cnvW1A1', 'cifar10/cnvW1A1'],
  ['cnvW1A2', 'cifar10/cnvW1A2'],
  ['cnvW2A2', 'cifar10/cnvW2A2'],
];

test.each(SHIPPED)('%s: the shipped folder decodes and re-encodes to the same .bin bytes', (network, dir) => {
  const files = readFolder(path.join(PARAMS, dir));
  const decoded = decodeParamFiles(files, network, network);
  const again = encodeParamFiles(decoded.overlay, decoded.layers, decoded.classes);
  const bins = [...expectedFiles(OVERLAYS[network]).keys()];
  expect([...again.keys()].filter((n) => n.endsWith('.bin')).sort()).toEqual([...bins].sort());
  const differing = bins.filter(
    (n) => !Buffer.from(must(again.get(n), n)).equals(Buffer.from(must(files.get(n), n))),
  );
  expect(differing).toEqual([]);
});

/** Random weights (-1/+1, or -1/0/+1 for 2-bit weights) and thresholds in each layer's stored range. */
function randomLayers(network: OverlayName, seed: number) {
  const o = OVERLAYS[network];
  const next = rng(seed);
  return o.layers.map((layer, l) => {
    const mw = paddedFanIn(o, l);
    const mh = paddedNeurons(o, l);
    const weights = Int8Array.from({ length: mw * mh }, () =>
      layer.weightBits === 1 ? (next() < 0.5 ? -1 : 1) : Math.floor(next() * 3) - 1,
    );
    const range = layer.inputBits === 8 ? 2 ** 23 : 2 ** 15;
    const thresholds = Int32Array.from(
      { length: mh * thresholdsPerNeuron(layer) },
      () => Math.floor(next() * 2 * range) - range,
    );
    return { weights, thresholds };
  });
}

test.each(SHIPPED.map(([n]) => n))('%s: random layers survive encode → decode exactly', (network) => {
  const o = OVERLAYS[network];
  const layers = randomLayers(network, 7);
  const files = encodeParamFiles(
    o,
    layers.map((l, i) => ({ lanes: packLanes(o, i, l.weights), thresholds: l.thresholds })),
    ['a', 'b', 'c'],
  );
  expect(new Map([...files].map(([n, b]) => [n, b.length]))).toEqual(
    new Map([...expectedFiles(o), ['classes.txt', 5]]),
  );
  const back = decodeOverlayFiles(files, network, 'random');
  expect(back.classes).toEqual(['a', 'b', 'c']);
  back.layers.forEach((l, i) => {
    const want = must(layers[i], 'layers[i]');
    expect(Buffer.from(l.weights.buffer).equals(Buffer.from(want.weights.buffer))).toBe(true);
    expect(Buffer.from(l.thresholds.buffer).equals(Buffer.from(want.thresholds.buffer))).toBe(true);
  });
});

test('the bits of a file word above SIMD x weight bits are not lanes: decoding ignores them', () => {
  // cnvW1A1 layer 0: 3 one-bit lanes per word, rows of 27 bits (groups straddle 32-bit words);
  // cnvW2A2 layer 0: 3 two-bit lanes per word, rows of 54 bits.
  for (const network of ['cnvW1A1', 'cnvW2A2'] as const) {
    const files = readFolder(path.join(PARAMS, 'cifar10', network));
    const clean = decodeOverlayFiles(files, network, network).layers[0]?.weights;
    const dirty = new Map(files);
    const lanes = 3 * (OVERLAYS[network].layers[0]?.weightBits ?? 0);
    for (const [name, bytes] of files)
      if (name.startsWith('0-') && name.endsWith('-weights.bin')) {
        const b = bytes.slice();
        const v = new DataView(b.buffer);
        for (let at = 0; at < b.length; at += 8) {
          v.setUint32(at, v.getUint32(at, true) | (~0 << lanes), true);
          v.setUint32(at + 4, 0xffffffff, true);
        }
        dirty.set(name, b);
      }
    const read = decodeOverlayFiles(dirty, network, network).layers[0]?.weights;
    expect(read && clean && Buffer.from(read.buffer).equals(Buffer.from(clean.buffer))).toBe(true);
  }
});

test("lfcW1A1's bit matrix is the codec's packed form of the lfcW1A1 entry", () => {
  const files = readFolder(path.join(PARAMS, 'mnist', 'lfcW1A1'));
  const lfc = paramsFromFiles(files, 'lfcW1A1');
  const general = decodeOverlayFiles(files, 'lfcW1A1', 'lfcW1A1');
  lfc.layers.forEach((l, i) => {
    const g = must(general.layers[i], 'general.layers[i]');
    expect(
      Buffer.from(unpackLanes(OVERLAYS.lfcW1A1, i, l.bits).buffer).equals(Buffer.from(g.weights.buffer)),
    ).toBe(true);
    expect(Array.from(l.thresholds)).toEqual(Array.from(g.thresholds));
    expect([l.mw, l.mh, l.simd, l.pe]).toEqual([
      paddedFanIn(OVERLAYS.lfcW1A1, i),
      paddedNeurons(OVERLAYS.lfcW1A1, i),
      OVERLAYS.lfcW1A1.layers[i]?.simd,
      OVERLAYS.lfcW1A1.layers[i]?.pe,
    ]);
  });
});
