import { readFileSync } from 'node:fs';
import type { NdArray } from '../../lib/bnn';
import {
  CLASS_PRESETS,
  convertLfc,
  encodeParams,
  loadLfcModel,
  paramsFromFiles,
  parseLfcModel,
  readNpz,
} from '../../lib/bnn';
import { must } from '../../lib/defined';
import { arraysToNpz, PARAMS_DIR, RECONSTRUCTED_NPZ, randomLfcArrays, readFolder } from './helpers';

// Each test starts the real CLI (or reads whole datasets): slow on a busy shared machine.
jest.setTimeout(300_000);

const mnistClasses = [...(CLASS_PRESETS.mnist as string[])];

describe('convertLfc on the reconstructed MNIST model', () => {
  const model = loadLfcModel(new Uint8Array(readFileSync(RECONSTRUCTED_NPZ)), 'reconstructed.npz');
  const { files, summary } = convertLfc(model, mnistClasses);
  const shipped = readFolder(PARAMS_DIR);

  test('writes exactly the 288 .bin files BNN-PYNQ ships, byte for byte, plus classes.txt', () => {
    const bins = [...files.keys()].filter((n) => n.endsWith('.bin')).sort();
    const shippedBins = [...shipped.keys()].filter((n) => n.endsWith('.bin')).sort();
    expect(bins).toHaveLength(288);
    expect(bins).toEqual(shippedBins);
    const differing = bins.filter(
      (n) => Buffer.compare(Buffer.from(must(files.get(n), n)), Buffer.from(must(shipped.get(n), n))) !== 0,
    );
    expect(differing).toEqual([]);
    expect(new TextDecoder().decode(files.get('classes.txt'))).toBe('0\n1\n2\n3\n4\n5\n6\n7\n8\n9');
  });

  test('summary: layer sizes, padding and flipped neurons', () => {
    expect(summary.fileCount).toBe(289);
    expect(
      summary.layers.map((l) => [l.fanIn, l.fanOut, l.paddedFanIn, l.paddedNeurons, l.simd, l.pe]),
    ).toEqual([
      [784, 1024, 832, 1024, 64, 32],
      [1024, 1024, 1024, 1024, 32, 64],
      [1024, 1024, 1024, 1024, 64, 32],
      [1024, 10, 1024, 64, 8, 16],
    ]);
    // The fixture flips about 30 % of neurons (gamma < 0); count them independently from the npz.
    const flippedPerLayer = model.layers.map((l) => l.gamma.filter((g) => g < 0).length);
    expect(summary.layers.map((l) => l.flipped)).toEqual(flippedPerLayer);
    expect(flippedPerLayer[0]).toBeGreaterThan(200);
  });

  test('round trip: the files read back to identical bits and thresholds, and re-encode to the same bytes', () => {
    const back = paramsFromFiles(files, 'converted');
    const direct = convertLfc(model, mnistClasses).params;
    back.layers.forEach((l, i) => {
      const d = must(direct.layers[i], 'direct.layers[i]');
      expect(Buffer.from(l.bits.buffer).equals(Buffer.from(d.bits.buffer))).toBe(true);
      expect(Array.from(l.thresholds)).toEqual(Array.from(d.thresholds));
    });
    const again = encodeParams(back);
    for (const [name, bytes] of files)
      expect(Buffer.from(must(again.get(name), name)).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('npz container and npy variants', () => {
  const m = randomLfcArrays(10, 7);
  const base = convertLfc(loadLfcModel(arraysToNpz(m), 'a.npz'), mnistClasses).files;
  const same = (files: Map<string, Uint8Array>) => {
    for (const [n, b] of base) expect(Buffer.from(must(files.get(n), n)).equals(Buffer.from(b))).toBe(true);
  };

  test('np.savez_compressed (deflated entries) converts to the same bytes as np.savez (stored)', () => {
    same(convertLfc(loadLfcModel(arraysToNpz(m, { deflate: true }), 'c.npz'), mnistClasses).files);
  });

  test('<f8 arrays holding the same values convert to the same bytes', () => {
    same(
      convertLfc(loadLfcModel(arraysToNpz(m, { npy: () => ({ descr: '<f8' }) }), 'd.npz'), mnistClasses)
        .files,
    );
  });

  test('.npy format versions 2.0 and 3.0 load', () => {
    same(
      convertLfc(
        loadLfcModel(arraysToNpz(m, { npy: (k) => ({ version: k % 2 ? 2 : 3 }) }), 'v.npz'),
        mnistClasses,
      ).files,
    );
  });

  test('a Fortran-order weight matrix is read in its true (C) order', () => {
    // Store W transposed in memory with fortran_order True: the same logical matrix.
    const fortran = {
      shapes: m.shapes,
      data: m.data.map((d, k) =>
        m.shapes[k]?.length === 2 ? transpose(d, m.shapes[k] as [number, number]) : d,
      ),
    };
    same(
      convertLfc(
        loadLfcModel(
          arraysToNpz(fortran, { npy: (k) => ({ fortran: (m.shapes[k]?.length ?? 0) === 2 }) }),
          'f.npz',
        ),
        mnistClasses,
      ).files,
    );
  });
});

/** Column-major copy of a row-major (rows, cols) matrix. */
function transpose(d: Float64Array, [rows, cols]: [number, number]): Float64Array {
  const out = new Float64Array(d.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = must(d[r * cols + c], 'd[r * cols + c]');
  return out;
}

describe('hand-built edge cases', () => {
  /** A model whose layer-3 neurons we set by hand; returns the converted params. */
  function build(classes: number, edit: (arrays: Map<string, NdArray>) => void) {
    const m = randomLfcArrays(classes, 3);
    const arrays = new Map<string, NdArray>(
      m.data.map((d, k) => [
        `arr_${k}`,
        { name: `arr_${k}`, dtype: '<f4', shape: must(m.shapes[k], 'm.shapes[k]'), data: d },
      ]),
    );
    edit(arrays);
    const names = Array.from({ length: classes }, (_, i) => `c${i}`);
    return convertLfc(parseLfcModel(arrays, 'hand.npz'), names);
  }
  const set = (arrays: Map<string, NdArray>, k: number, i: number, v: number) => {
    must(arrays.get(`arr_${k}`), `arr_${k}`).data[i] = v;
  };
  const bit = (bits: Uint32Array, row: number, words: number, i: number) =>
    (must(bits[row * words + (i >>> 5)], 'bits[row * words + (i >>> 5)]') >>> (i & 31)) & 1;

  test('negative gamma flips the weights and the threshold; W == 0 gives bit 1', () => {
    const { params, summary } = build(10, (a) => {
      // Layer 3 (arrays 18..23), neuron 0: gamma -2, b 1, beta 3, mean 5, inv_std 0.5.
      set(a, 21, 0, -2);
      set(a, 19, 0, 1);
      set(a, 20, 0, 3);
      set(a, 22, 0, 5);
      set(a, 23, 0, 0.5);
      set(a, 18, 0 * 10 + 0, 0.25); // W[0][0] > 0 -> flipped bit 0
      set(a, 18, 1 * 10 + 0, -0.25); // W[1][0] < 0 -> flipped bit 1
      set(a, 18, 2 * 10 + 0, 0); // W == 0 -> 1 whatever the sign
      set(a, 18, 2 * 10 + 1, 0);
    });
    const l3 = must(params.layers[3], 'params.layers[3]');
    // thr = (5 - 1) - 3 / (-2 * 0.5) = 7; s = -1; T = trunc((1024 - 7) / 2) = 508
    expect(l3.thresholds[0]).toBe(508);
    expect([bit(l3.bits, 0, 32, 0), bit(l3.bits, 0, 32, 1), bit(l3.bits, 0, 32, 2)]).toEqual([0, 1, 1]);
    expect(bit(l3.bits, 1, 32, 2)).toBe(1);
    expect(summary.layers[3]?.flipped).toBeGreaterThanOrEqual(1);
  });

  test('thresholds below -32768 and above 32767 saturate to the int16 range and are counted', () => {
    const { params, files, summary } = build(10, (a) => {
      // neuron 3: huge positive threshold: beta very negative -> thr = mean - b - beta/(g*is) large
      set(a, 21, 3, 1);
      set(a, 23, 3, 1e-6);
      set(a, 20, 3, -1); // thr = mean - b + 1e6
      set(a, 22, 3, 0);
      set(a, 19, 3, 0);
      // neuron 4: huge negative threshold
      set(a, 21, 4, 1);
      set(a, 23, 4, 1e-6);
      set(a, 20, 4, 1);
      set(a, 22, 4, 0);
      set(a, 19, 4, 0);
      // neuron 5: small negative threshold, truncated toward zero: thr = -1027 -> (1024 - 1027) / 2 = -1.5 -> -1
      set(a, 21, 5, 1);
      set(a, 23, 5, 1);
      set(a, 20, 5, 0);
      set(a, 22, 5, -1027);
      set(a, 19, 5, 0);
    });
    const t = must(params.layers[3], 'params.layers[3]').thresholds;
    expect([t[3], t[4], t[5]]).toEqual([32767, -32768, -1]);
    expect(summary.layers[3]?.saturated).toBeGreaterThanOrEqual(2);
    // In the file: class 3 is PE 3 slot 0, an int64 little-endian.
    const f3 = new DataView(must(files.get('3-3-thres.bin'), '3-3-thres.bin').buffer);
    const f4 = new DataView(must(files.get('3-4-thres.bin'), '3-4-thres.bin').buffer);
    expect(f3.getBigInt64(0, true)).toBe(32767n);
    expect(f4.getBigInt64(0, true)).toBe(-32768n);
  });

  test('fewer than 10 classes: padding neurons are all-ones with threshold 32767', () => {
    const { params, files } = build(3, () => {});
    const l3 = must(params.layers[3], 'params.layers[3]');
    for (let n = 3; n < 64; n++) {
      expect(l3.thresholds[n]).toBe(32767);
      for (let w = 0; w < 32; w++) expect(l3.bits[n * 32 + w]).toBe(0xffffffff);
    }
    // Neuron 3 is PE 3, slot 0: its 8-bit groups are 0xff in uint64 words.
    const w3 = must(files.get('3-3-weights.bin'), '3-3-weights.bin');
    expect(w3.length).toBe(512 * 8);
    expect(Array.from(w3.subarray(0, 16))).toEqual([0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(files.get('classes.txt'))).toBe('c0\nc1\nc2');
  });

  test('exactly 64 classes: no padding rows, every threshold real', () => {
    const { params } = build(64, () => {});
    const back = paramsFromFiles(encodeParams(params), '64');
    expect(back.classes).toHaveLength(64);
    expect(Array.from(back.layers[3]?.thresholds ?? [])).toEqual(
      Array.from(params.layers[3]?.thresholds ?? []),
    );
    expect((params.layers[3]?.thresholds ?? []).some((t) => t === 32767)).toBe(false);
  });

  test('layer 0 pads synapses 784..831 with 1 bits', () => {
    const { params } = build(10, () => {});
    const l0 = must(params.layers[0], 'params.layers[0]');
    for (const n of [0, 517, 1023]) {
      expect(must(l0.bits[n * 26 + 24], 'l0.bits[n * 26 + 24]') >>> 16).toBe(0xffff); // bits 784..799
      expect(l0.bits[n * 26 + 25]).toBe(0xffffffff); // bits 800..831
    }
  });
});

test('readNpz names the entries arr_0 .. arr_23 with shapes and dtype', () => {
  const arrays = readNpz(new Uint8Array(readFileSync(RECONSTRUCTED_NPZ)), 'r.npz');
  expect([...arrays.keys()]).toHaveLength(24);
  expect(arrays.get('arr_0')?.shape).toEqual([784, 1024]);
  expect(arrays.get('arr_18')?.shape).toEqual([1024, 10]);
  expect(arrays.get('arr_5')?.dtype).toBe('<f4');
});
