import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readCifarRecords, readIdxImages, readIdxLabels, writeIdxImages, writeIdxLabels } from '../bnn';
import { UserError } from '../errors';
import { fsError } from '../fs-errors';
import {
  CIFAR_DATASET_FORMAT,
  CIFAR_FILES,
  DATASET_MANIFEST_FILE,
  DATASET_NAME_PATTERN,
  datasetPrefix,
  IDX_FILES,
  localDatasetDir,
} from '../layout';
import { checkNoOverlap, checkReplaceable } from '../safe-output';
import { CLASSES_FILE } from './import';
import { EXPORT_TEST_KIND, sha256Hex, writeFolderAtomic } from './output';

/**
 * The test split as plain (uncompressed) idx files, which is what the BNN-PYNQ notebooks hand to
 * `classify_mnists` on the board, plus classes.txt; for a CNV dataset (dataset.json `format: "cifar-bin"`)
 * its test_batch.bin, the CIFAR-10 binary records `classify_cifars` reads. The SHA-256 sums in dataset.json
 * are checked first.
 */
export const EXPORTED_TEST_FILES = {
  images: 't10k-images-idx3-ubyte',
  labels: 't10k-labels-idx1-ubyte',
  records: CIFAR_FILES.test,
} as const;

type Fetch = (file: string) => Promise<Buffer | undefined>;

export interface ExportTestOptions {
  name: string;
  out: string;
  /** A dataset folder (default `./datasets/<name>`), unless `s3` is given. */
  from?: string;
  s3?: { client: S3Client; bucket: string };
  force: boolean;
  /** The user's current folder (never replaced; default process.cwd()). */
  cwd?: string;
}

/** The sha256 dataset.json records for `file`: `files: {name: {sha256}}` (ours and stage-dataset.sh's). */
function recordedSha(manifest: unknown, file: string): string | undefined {
  const files = (manifest as { files?: Record<string, { sha256?: unknown }> }).files;
  const sha = files && typeof files === 'object' ? files[file]?.sha256 : undefined;
  return typeof sha === 'string' ? sha : undefined;
}

export async function exportTestSplit(
  options: ExportTestOptions,
): Promise<{ outDir: string; count: number; where: string; files: string[] }> {
  if (!DATASET_NAME_PATTERN.test(options.name))
    throw new UserError(`dataset name ${JSON.stringify(options.name)} is not valid`);
  const fromDir = options.s3 ? undefined : (options.from ?? localDatasetDir(options.name));
  await checkNoOverlap(
    [fromDir !== undefined ? { path: fromDir, what: 'the dataset folder (--from)' } : undefined],
    [{ path: options.out, what: '--out' }],
    { cwd: options.cwd },
  );
  await checkReplaceable(options.out, { replace: options.force, kind: EXPORT_TEST_KIND, what: '--out' });
  let where: string;
  let fetch: Fetch;
  if (options.s3) {
    const { client, bucket } = options.s3;
    const prefix = datasetPrefix(options.name);
    where = `s3://${bucket}/${prefix}`;
    fetch = async (file) => {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${file}` }));
        if (!out.Body) return undefined;
        return Buffer.from(await out.Body.transformToByteArray());
      } catch (err) {
        const e = err as { name?: string; message?: string };
        if (e.name === 'NoSuchKey' || e.name === 'NotFound') return undefined;
        throw new UserError(`reading ${where}${file} failed: ${e.name ?? ''} ${e.message ?? ''}`.trim(), {
          cause: err,
        });
      }
    };
  } else {
    const dir = fromDir as string;
    where = `${dir}/`;
    fetch = (file) =>
      fsp.readFile(path.join(dir, file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw fsError(err, { path: path.join(dir, file), what: 'the dataset folder' });
      });
  }
  const manifestBytes = await fetch(DATASET_MANIFEST_FILE);
  if (!manifestBytes)
    throw new UserError(
      `${where}${DATASET_MANIFEST_FILE} not found: no complete dataset '${options.name}' there. Import it first (bnn-pynq dataset import ... --name ${options.name}) or pass --from <folder>`,
    );
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    throw new UserError(`${where}${DATASET_MANIFEST_FILE}: not valid JSON; import the dataset again`);
  }
  const load = async (file: string): Promise<Buffer> => {
    const bytes = await fetch(file);
    if (!bytes) throw new UserError(`${where}${file} is missing; import the dataset again`);
    return bytes;
  };
  const checkSha = (file: string, raw: Uint8Array, what: string) => {
    const want = recordedSha(manifest, file);
    const got = sha256Hex(raw);
    if (want !== got)
      throw new UserError(
        `${where}${file}: SHA-256 of its ${what} is ${got}, dataset.json says ${want ?? '(nothing)'}; the copy is corrupt or partial, import or upload it again`,
      );
  };
  const emptyTest = () =>
    new UserError(
      `dataset '${options.name}' has an empty test split; import it again with a --split whose last part is not 0`,
    );
  const files: { name: string; bytes: Uint8Array }[] = [];
  let count: number;
  if ((manifest as { format?: unknown }).format === CIFAR_DATASET_FORMAT) {
    const records = await load(CIFAR_FILES.test);
    checkSha(CIFAR_FILES.test, records, 'bytes');
    if (records.length === 0) throw emptyTest();
    count = readCifarRecords(records, `${where}${CIFAR_FILES.test}`).count;
    files.push({ name: EXPORTED_TEST_FILES.records, bytes: records });
  } else {
    const [imagesGz, labelsGz] = await Promise.all([load(IDX_FILES.testImages), load(IDX_FILES.testLabels)]);
    const images = readIdxImages(imagesGz, `${where}${IDX_FILES.testImages}`);
    const labels = readIdxLabels(labelsGz, `${where}${IDX_FILES.testLabels}`);
    const rawImages = writeIdxImages(images, { gzip: false });
    const rawLabels = writeIdxLabels(labels, { gzip: false });
    checkSha(IDX_FILES.testImages, rawImages, 'decompressed bytes');
    checkSha(IDX_FILES.testLabels, rawLabels, 'decompressed bytes');
    if (images.count !== labels.count)
      throw new UserError(
        `${where}: ${images.count} test images but ${labels.count} labels; import the dataset again`,
      );
    if (images.count === 0) throw emptyTest();
    count = images.count;
    files.push(
      { name: EXPORTED_TEST_FILES.images, bytes: rawImages },
      { name: EXPORTED_TEST_FILES.labels, bytes: rawLabels },
    );
  }
  const classes = await fetch(CLASSES_FILE);
  if (classes) files.push({ name: CLASSES_FILE, bytes: classes });
  await writeFolderAtomic(options.out, files, options.force, EXPORT_TEST_KIND);
  return { outDir: options.out, count, where, files: files.map((f) => f.name) };
}
