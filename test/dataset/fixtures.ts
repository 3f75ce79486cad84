import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readIdxImages, readIdxLabels } from '../../lib/bnn';
import { must } from '../../lib/defined';

/** The Fashion-MNIST test set (Debian's dataset-fashion-mnist; real data, never copied into the repo). */
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
// Fashion-MNIST label order (0 = T-shirt/top ... 9 = Ankle boot) mapped to folder names.
const LABEL_FOLDER = [
  't-shirt',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle-boot',
];
/** Class names as an import sees them: the folder names, sorted. */
export const FASHION_CLASSES = [...LABEL_FOLDER].sort();

export interface Sample {
  pixels: Uint8Array; // 784
  folder: string;
}

let cache: { images: Uint8Array; labels: Uint8Array } | undefined;
/** The first `n` images of the Fashion-MNIST test set with their class folder names. */
export function fashionSamples(n: number, start = 0): Sample[] {
  cache ??= {
    images: readIdxImages(readFileSync(path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz')), 't10k-images')
      .pixels,
    labels: readIdxLabels(readFileSync(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz')), 't10k-labels')
      .labels,
  };
  const out: Sample[] = [];
  for (let i = start; i < start + n; i++)
    out.push({
      pixels: cache.images.subarray(i * 784, (i + 1) * 784),
      folder: must(LABEL_FOLDER[must(cache.labels[i], 'cache.labels[i]')], 'the folder of a label'),
    });
  return out;
}

export const tempDir = (tag: string): string => mkdtempSync(path.join(tmpdir(), `bnn-dataset-${tag}-`));

export type Variant =
  | 'png'
  | 'jpeg'
  | 'rgba'
  | 'png16'
  | 'up56'
  | 'r20x35'
  | 'inverted'
  | 'webp'
  | 'gif'
  | 'tiff'
  | 'bmp'
  | 'exif-rotated';

/** One sample encoded as a file of the given variant (all made with sharp from the real pixels). */
export async function encode(pixels: Uint8Array, variant: Variant): Promise<{ bytes: Buffer; ext: string }> {
  const grey = () => sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } });
  switch (variant) {
    case 'png':
      return { bytes: await grey().toColourspace('b-w').png().toBuffer(), ext: 'png' };
    case 'inverted':
      return {
        bytes: await sharp(Buffer.from(pixels.map((v) => 255 - v)), {
          raw: { width: 28, height: 28, channels: 1 },
        })
          .toColourspace('b-w')
          .png()
          .toBuffer(),
        ext: 'png',
      };
    case 'jpeg':
      return { bytes: await grey().jpeg({ quality: 90 }).toBuffer(), ext: 'jpg' };
    case 'webp':
      return { bytes: await grey().webp({ lossless: true }).toBuffer(), ext: 'webp' };
    case 'gif':
      return { bytes: await grey().gif().toBuffer(), ext: 'gif' };
    case 'tiff':
      return { bytes: await grey().toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer(), ext: 'tif' };
    case 'rgba': {
      const rgba = Buffer.alloc(784 * 4);
      for (let i = 0; i < 784; i++) {
        const v = must(pixels[i], 'pixels[i]');
        rgba.set([v, v, v, 255], i * 4);
      }
      return {
        bytes: await sharp(rgba, { raw: { width: 28, height: 28, channels: 4 } })
          .png()
          .toBuffer(),
        ext: 'png',
      };
    }
    case 'png16':
      return {
        bytes: await grey().toColourspace('grey16').png().toBuffer(),
        ext: 'png',
      };
    case 'up56':
      return {
        bytes: await grey().resize(56, 56, { kernel: 'nearest' }).toColourspace('b-w').png().toBuffer(),
        ext: 'png',
      };
    case 'bmp':
      return { bytes: bmp24(pixels), ext: 'bmp' };
    case 'exif-rotated':
      // Stored rotated 90° anticlockwise, with EXIF orientation 6 ("rotate 90° clockwise to display").
      return {
        bytes: await grey()
          .rotate(-90)
          .toColourspace('b-w')
          .webp({ lossless: true })
          .withMetadata({ orientation: 6 })
          .toBuffer(),
        ext: 'webp',
      };
    case 'r20x35':
      return {
        bytes: await grey().resize(20, 35, { fit: 'fill' }).toColourspace('b-w').png().toBuffer(),
        ext: 'png',
      };
  }
}

/** A 24-bit BMP written by hand (BITMAPINFOHEADER, bottom-up rows padded to 4 bytes): sharp cannot write BMP. */
export function bmp24(pixels: Uint8Array, side = 28): Buffer {
  const rowBytes = Math.ceil((side * 3) / 4) * 4;
  const out = Buffer.alloc(54 + rowBytes * side);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(side, 18);
  out.writeInt32LE(side, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(rowBytes * side, 34);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const v = must(pixels[y * side + x], 'pixels[y * side + x]');
      out.fill(v, 54 + (side - 1 - y) * rowBytes + x * 3, 54 + (side - 1 - y) * rowBytes + x * 3 + 3);
    }
  return out;
}

/** Writes `samples` as `<root>/<folder>/<index>.<ext>` files; returns the root. */
export async function writeImageFolder(
  root: string,
  samples: Sample[],
  variant: Variant = 'png',
): Promise<string> {
  let i = 0;
  const jobs: Promise<void>[] = [];
  for (const s of samples) {
    const index = i++;
    jobs.push(
      encode(s.pixels, variant).then(({ bytes, ext }) => {
        mkdirSync(path.join(root, s.folder), { recursive: true });
        writeFileSync(path.join(root, s.folder, `${String(index).padStart(5, '0')}.${ext}`), bytes);
      }),
    );
    if (jobs.length >= 16) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
  return root;
}

/** Zips `entries` ({name: bytes}) with Python's zipfile, which writes any entry name we ask for (including '../x'). */
export function writeZip(zipPath: string, entries: Record<string, Buffer>): void {
  const staging = tempDir('zip-staging');
  const manifest: [string, string][] = [];
  Object.entries(entries).forEach(([name, bytes], i) => {
    const file = path.join(staging, `${i}.bin`);
    writeFileSync(file, bytes);
    manifest.push([name, file]);
  });
  execFileSync('/usr/bin/python3', [
    '-c',
    'import json,sys,zipfile\nwith zipfile.ZipFile(sys.argv[1],"w") as z:\n  for name,f in json.loads(sys.argv[2]): z.write(f,name)',
    zipPath,
    JSON.stringify(manifest),
  ]);
}

/** Reads an idx dataset folder back: test/train images and labels. */
export function readDataset(dir: string) {
  const read = (f: string) => readFileSync(path.join(dir, f));
  return {
    train: readIdxImages(read('train-images-idx3-ubyte.gz'), 'train-images'),
    trainLabels: readIdxLabels(read('train-labels-idx1-ubyte.gz'), 'train-labels').labels,
    test: readIdxImages(read('t10k-images-idx3-ubyte.gz'), 't10k-images'),
    testLabels: readIdxLabels(read('t10k-labels-idx1-ubyte.gz'), 't10k-labels').labels,
    manifest: JSON.parse(read('dataset.json').toString('utf8')),
    classes: read('classes.txt').toString('utf8').split('\n'),
  };
}

/** A multiset key for an (image, class name) pair. */
export const pairKey = (pixels: Uint8Array, className: string): string =>
  `${className}:${Buffer.from(pixels).toString('base64')}`;
