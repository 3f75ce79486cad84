import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { writeIdxImages, writeIdxLabels } from '../bnn';
import { UserError } from '../errors';
import { sha256Hex } from '../manifest';
import { IMAGE_SIDE } from './limits';

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
 * Writes `files` (in order) into a temporary sibling of `outDir` and renames it into place, so
 * `outDir` either does not exist or is complete. With `replace`, an existing `outDir` is swapped out.
 */
export async function writeFolderAtomic(
  outDir: string,
  files: { name: string; bytes: Uint8Array }[],
  replace: boolean,
): Promise<void> {
  const parent = path.dirname(path.resolve(outDir));
  await fsp.mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const temp = path.join(parent, `.${path.basename(outDir)}.tmp-${suffix}`);
  const old = path.join(parent, `.${path.basename(outDir)}.old-${suffix}`);
  await fsp.mkdir(temp);
  try {
    for (const f of files) await fsp.writeFile(path.join(temp, f.name), f.bytes);
    const exists = await fsp.stat(outDir).then(
      () => true,
      () => false,
    );
    if (exists) {
      if (!replace)
        throw new UserError(`${outDir} already exists; pass --force to replace it, or --out another folder`);
      await fsp.rename(outDir, old);
    }
    await fsp.rename(temp, outDir);
    if (exists) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(temp, { recursive: true, force: true });
    throw err;
  }
}
