import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { CLASSES_FILE, writeCifarRecords, writeIdxImages, writeIdxLabels } from '../bnn';
import { CIFAR_FILES, DATASET_MANIFEST_FILE, DATASET_PREVIEW_FILE, IDX_FILES } from '../layout';
import { sha256Hex } from '../manifest';
import { type OutputKind, writeFolderAtomic as writeFolderSafely } from '../safe-output';
import { IMAGE_SIDE, RECORDS_PER_BATCH_FILE, RGB_IMAGE_BYTES } from './limits';
import { DATASET_FORMATS } from './manifest';

const gzipAsync = promisify(gzip);

export { sha256Hex };

export interface IdxPair {
  images: Uint8Array;
  labels: Uint8Array;
}

export interface EncodedFile {
  name: string;
  bytes: Uint8Array;
  /** SHA-256 of the decompressed bytes (idx) or of the file itself (others). */
  sha256: string;
  /** Decompressed size (idx files). */
  rawBytes?: number;
  count?: number;
}

/**
 * An idx image + label pair, gzip-compressed. The idx layout is lib/bnn's; the two files are
 * compressed concurrently on libuv's pool (gzip of the 55 MB training file is the slowest step).
 */
export async function encodeIdxPair(
  names: { images: string; labels: string },
  pair: IdxPair,
): Promise<[EncodedFile, EncodedFile]> {
  const count = pair.labels.length;
  const rawImages = writeIdxImages(
    { count, rows: IMAGE_SIDE, cols: IMAGE_SIDE, pixels: pair.images },
    { gzip: false },
  );
  const rawLabels = writeIdxLabels(pair.labels, { gzip: false });
  const [gzImages, gzLabels] = await Promise.all([gzipAsync(rawImages), gzipAsync(rawLabels)]);
  return [
    { name: names.images, bytes: gzImages, sha256: sha256Hex(rawImages), rawBytes: rawImages.length, count },
    { name: names.labels, bytes: gzLabels, sha256: sha256Hex(rawLabels), rawBytes: rawLabels.length, count },
  ];
}

/**
 * CIFAR-10 binary records for a CNV dataset: the training pairs (train part, then validation part) split
 * over data_batch_1.bin .. data_batch_N.bin of at most RECORDS_PER_BATCH_FILE records (at least one file,
 * even when empty), the test pairs in test_batch.bin. SHA-256 of each file as stored (not compressed).
 */
export function encodeCifarFiles(train: IdxPair, test: IdxPair): EncodedFile[] {
  const records = (pair: IdxPair, first: number, count: number) =>
    writeCifarRecords({
      count,
      labels: pair.labels.subarray(first, first + count),
      pixels: pair.images.subarray(first * RGB_IMAGE_BYTES, (first + count) * RGB_IMAGE_BYTES),
    });
  const file = (name: string, bytes: Uint8Array, count: number): EncodedFile => ({
    name,
    bytes,
    sha256: sha256Hex(bytes),
    count,
  });
  const files: EncodedFile[] = [];
  const total = train.labels.length;
  for (let first = 0, n = 1; first < total || n === 1; first += RECORDS_PER_BATCH_FILE, n++) {
    const count = Math.min(RECORDS_PER_BATCH_FILE, total - first);
    files.push(file(CIFAR_FILES.train(n), records(train, first, count), count));
  }
  files.push(file(CIFAR_FILES.test, records(test, 0, test.labels.length), test.labels.length));
  return files;
}

/** The files `dataset import` writes (with our dataset.json): what `--force` may replace. */
export const DATASET_FOLDER_KIND: OutputKind = {
  name: 'dataset folder (bnn-pynq dataset import)',
  ownsFile: (name) =>
    (Object.values(IDX_FILES) as string[]).includes(name) ||
    name === CIFAR_FILES.test ||
    CIFAR_FILES.trainPattern.test(name) ||
    name === CLASSES_FILE ||
    name === DATASET_PREVIEW_FILE ||
    name === DATASET_MANIFEST_FILE,
  ownsFolder: async (dir, names) => {
    if (names.length === 0) return undefined;
    const manifest = path.join(dir, DATASET_MANIFEST_FILE);
    const text = await fsp.readFile(manifest, 'utf8').catch(() => undefined);
    let format: unknown;
    try {
      format = text === undefined ? undefined : JSON.parse(text)?.format;
    } catch {
      format = undefined;
    }
    return (DATASET_FORMATS as readonly unknown[]).includes(format)
      ? undefined
      : `no ${DATASET_MANIFEST_FILE} of a bnn-pynq dataset (${manifest})`;
  },
};

/** The files `dataset export-test` writes: what its `--force` may replace. */
export const EXPORT_TEST_KIND: OutputKind = {
  name: 'exported test split (bnn-pynq dataset export-test)',
  ownsFile: (name) =>
    name === 't10k-images-idx3-ubyte' ||
    name === 't10k-labels-idx1-ubyte' ||
    name === CIFAR_FILES.test ||
    name === CLASSES_FILE,
};

/** Writes a dataset (or exported) folder atomically; see lib/safe-output.ts for the rules. */
export async function writeFolderAtomic(
  outDir: string,
  files: { name: string; bytes: Uint8Array }[],
  replace: boolean,
  kind: OutputKind = DATASET_FOLDER_KIND,
): Promise<void> {
  await writeFolderSafely(outDir, files, { replace, kind, what: '--out' });
}
