import fc from 'fast-check';
import { decodeToGrey28, ImageDecodeError, isPlainGrey28Png, padToSquare } from '../../lib/dataset/decode';
import { decidePolarity } from '../../lib/dataset/polarity';
import { minimumPerClass, parseSplit, splitCounts, stratifiedSplit } from '../../lib/dataset/split';
import { zipPathEscapesRoot } from '../../lib/dataset/zip';
import { must } from '../../lib/defined';
import { encode, fashionSamples } from './fixtures';

test('splitCounts: largest remainder, sums to n, zero percent stays zero', () => {
  expect(splitCounts(15, [80, 10, 10])).toEqual([12, 2, 1]);
  expect(splitCounts(10, [80, 10, 10])).toEqual([8, 1, 1]);
  expect(splitCounts(1000, [0, 0, 100])).toEqual([0, 0, 1000]);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 0, max: 100 }),
      (n, a, b) => {
        fc.pre(a + b <= 100);
        const p: [number, number, number] = [a, b, 100 - a - b];
        const c = splitCounts(n, p);
        expect(c[0] + c[1] + c[2]).toBe(n);
        c.forEach((k, i) => {
          expect(Math.abs(k - (n * must(p[i], 'p[i]')) / 100)).toBeLessThan(1);
          if (p[i] === 0) expect(k).toBe(0);
        });
      },
    ),
  );
});

test('minimumPerClass and parseSplit', () => {
  expect(minimumPerClass([80, 10, 10])).toBe(7);
  expect(minimumPerClass([0, 0, 100])).toBe(1);
  expect(minimumPerClass([90, 0, 10])).toBe(6);
  expect(parseSplit('70/15/15')).toEqual([70, 15, 15]);
  expect(() => parseSplit('80/10/5')).toThrow(/add up to 100/);
  expect(() => parseSplit('80-10-10')).toThrow(/--split 80-10-10/);
});

test('stratifiedSplit: a permutation of the input, deterministic by seed, identical keys together', () => {
  const items = Array.from({ length: 300 }, (_, index) => ({
    index,
    classIndex: index % 3,
    key: String(index % 100 === 7 ? 7 : index),
  }));
  const a = stratifiedSplit(items, 3, [60, 20, 20], 5);
  const b = stratifiedSplit(items, 3, [60, 20, 20], 5);
  const c = stratifiedSplit(items, 3, [60, 20, 20], 6);
  expect(a).toEqual(b);
  expect(a).not.toEqual(c);
  expect([...a.train, ...a.validation, ...a.test].sort((x, y) => x - y)).toEqual(items.map((i) => i.index));
  const dupes = [7, 107, 207];
  const where = dupes.map((i) => (a.train.includes(i) ? 0 : a.validation.includes(i) ? 1 : 2));
  expect(new Set(where).size).toBe(1);
});

test('zip paths outside the root', () => {
  for (const bad of ['../x.png', 'a/../../x.png', '/etc/passwd', 'C:/x.png', 'a\\..\\x.png', '..'])
    expect(zipPathEscapesRoot(bad)).toBe(true);
  for (const good of ['a/b.png', 'a/../b/c.png', 'a/..b.png', 'x/'])
    expect(zipPathEscapesRoot(good)).toBe(false);
});

test('padToSquare centres and pads with the border mean; polarity uses the median border', () => {
  const img = new Uint8Array(16 * 28).fill(200);
  const out = padToSquare(img, 16, 28);
  expect(out[0]).toBe(200);
  const white = new Uint8Array(784 * 3).fill(250);
  white.fill(0, 784 * 2); // one of three images has a dark border: the median still says white
  expect(decidePolarity(white, 3, 'auto')).toMatchObject({ inverted: true, medianBorder: 250 });
  expect(decidePolarity(white, 3, 'no').inverted).toBe(false);
  expect(decidePolarity(new Uint8Array(784), 1, 'yes').inverted).toBe(true);
});

describe('decodeToGrey28', () => {
  const samples = fashionSamples(200, 6000);

  test('the pngjs fast path and the sharp path give the source pixels for 8-bit grey 28×28 PNGs', async () => {
    for (const s of samples) {
      const { bytes } = await encode(s.pixels, 'png');
      expect(isPlainGrey28Png(bytes)).toBe(true);
      const fast = await decodeToGrey28(bytes, 'contain');
      const slow = await decodeToGrey28(bytes, 'contain', { fastPath: false });
      expect(Buffer.from(fast)).toEqual(Buffer.from(s.pixels));
      expect(Buffer.from(slow)).toEqual(Buffer.from(s.pixels));
    }
  });

  test('a PNG with a broken CRC is not silently accepted by the fast path', async () => {
    const { bytes } = await encode(must(samples[0], 'samples[0]').pixels, 'png');
    const broken = Buffer.from(bytes);
    const idat = broken.indexOf('IDAT');
    broken[idat + 10] = must(broken[idat + 10], 'broken[idat + 10]') ^ 0xff; // a byte of the compressed data
    await expect(decodeToGrey28(broken, 'contain')).rejects.toBeInstanceOf(ImageDecodeError);
  });

  test('colour, 16-bit, alpha or non-28×28 PNGs do not take the fast path', async () => {
    const px = must(samples[1], 'samples[1]').pixels;
    for (const v of ['rgba', 'png16', 'up56'] as const)
      expect(isPlainGrey28Png((await encode(px, v)).bytes)).toBe(false);
  });
});
