import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { readIdxImages, readIdxLabels, readNpz, writeIdxImages, writeIdxLabels } from '../../lib/bnn';
import { InputFormatError } from '../../lib/errors';
import { npy, npz } from './helpers';

/**
 * Random byte mutations of valid files: the reader either parses them or throws the typed
 * InputFormatError; never another exception, never a hang (each run is timed).
 */
function parsesOrTypedError(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (err) {
    if (err instanceof InputFormatError) return true;
    throw err;
  }
}

const mutation = (length: number) =>
  fc.array(fc.tuple(fc.nat({ max: length - 1 }), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 8,
  });

function mutate(bytes: Uint8Array, edits: Array<[number, number]>, cut: number | null): Uint8Array {
  const out = bytes.slice();
  for (const [at, v] of edits) out[at] = v;
  return cut === null ? out : out.subarray(0, cut);
}

const small = npz({
  arr_0: npy(
    [3, 4],
    Array.from({ length: 12 }, (_, i) => i - 5.5),
  ),
  arr_1: npy([4], [1, 2, 3, 4], { descr: '<f8' }),
});
const smallDeflated = npz(
  {
    arr_0: npy(
      [16, 8],
      Array.from({ length: 128 }, (_, i) => i % 7),
    ),
  },
  { deflate: true },
);

test.each([
  ['stored', small],
  ['deflated', smallDeflated],
])('mutated npz (%s): parse or InputFormatError', (_kind, file) => {
  const start = Date.now();
  fc.assert(
    fc.property(mutation(file.length), fc.option(fc.nat({ max: file.length }), { nil: null }), (edits, cut) =>
      parsesOrTypedError(() => readNpz(mutate(file, edits, cut), 'm.npz')),
    ),
    { numRuns: 400, seed: 42 },
  );
  expect(Date.now() - start).toBeLessThan(20_000);
});

const images = writeIdxImages(
  { count: 3, rows: 4, cols: 5, pixels: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) & 255) },
  { gzip: false },
);
const labels = writeIdxLabels(Uint8Array.from([1, 2, 3, 4, 5]), { gzip: false });

test.each([
  ['idx3 raw', images, readIdxImages],
  ['idx3 gzip', new Uint8Array(gzipSync(images)), readIdxImages],
  ['idx1 raw', labels, readIdxLabels],
  ['idx1 gzip', new Uint8Array(gzipSync(labels)), readIdxLabels],
] as const)('mutated %s: parse or InputFormatError', (_kind, file, read) => {
  fc.assert(
    fc.property(mutation(file.length), fc.option(fc.nat({ max: file.length }), { nil: null }), (edits, cut) =>
      parsesOrTypedError(() => read(mutate(file, edits, cut), 'm.idx')),
    ),
    { numRuns: 400, seed: 7 },
  );
});

test('idx writer and reader round-trip (gzip and raw)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      (px, cols, gzip) => {
        const count = Math.floor(px.length / (cols * 2));
        const pixels = px.subarray(0, count * cols * 2);
        const back = readIdxImages(writeIdxImages({ count, rows: 2, cols, pixels }, { gzip }), 'x');
        const lab = readIdxLabels(writeIdxLabels(px, { gzip }), 'y');
        return (
          back.count === count &&
          back.rows === 2 &&
          back.cols === cols &&
          Buffer.from(back.pixels).equals(Buffer.from(pixels)) &&
          Buffer.from(lab.labels).equals(Buffer.from(px))
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('an unmutated small npz parses to its values', () => {
  const a = readNpz(small, 's.npz');
  expect(a.get('arr_0')?.shape).toEqual([3, 4]);
  expect(Array.from(a.get('arr_1')?.data ?? [])).toEqual([1, 2, 3, 4]);
  expect(a.get('arr_0')?.data[11]).toBe(5.5);
});
