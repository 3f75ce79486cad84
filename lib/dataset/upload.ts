import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../errors';
import { CIFAR_DATASET_FORMAT, CIFAR_FILES, DATASET_MANIFEST_FILE, datasetPrefix } from '../layout';
import { CLASSES_FILE, checkDatasetName, PREVIEW_FILE } from './import';
import { type DatasetManifest, IDX_FILE_NAMES, parseDatasetManifest } from './manifest';

/** Upload order: data first, dataset.json LAST (its presence means "complete" to the instance). */
export const UPLOAD_ORDER = [...IDX_FILE_NAMES, CLASSES_FILE, PREVIEW_FILE, DATASET_MANIFEST_FILE] as const;

/** The upload order of one dataset: a CNV dataset's record files (data_batch_1.bin .., test_batch.bin) first. */
export function uploadOrder(manifest: DatasetManifest): string[] {
  if (manifest.format !== CIFAR_DATASET_FORMAT) return [...UPLOAD_ORDER];
  const batch = (name: string) => Number(CIFAR_FILES.trainPattern.exec(name)?.[1]);
  const train = Object.keys(manifest.files)
    .filter((n) => CIFAR_FILES.trainPattern.test(n))
    .sort((a, b) => batch(a) - batch(b));
  return [...train, CIFAR_FILES.test, CLASSES_FILE, PREVIEW_FILE, DATASET_MANIFEST_FILE];
}

const CONTENT_TYPE: Record<string, string> = {
  [CLASSES_FILE]: 'text/plain; charset=utf-8',
  [PREVIEW_FILE]: 'image/png',
  [DATASET_MANIFEST_FILE]: 'application/json',
};

const s3Error = (action: string, key: string, err: unknown): UserError => {
  const e = err as { name?: string; message?: string };
  return new UserError(`${action} s3 object ${key} failed: ${e.name ?? ''} ${e.message ?? ''}`.trim(), {
    cause: err,
  });
};

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
    throw s3Error('checking', `s3://${bucket}/${key}`, err);
  }
}

/** Refuses early (before an import) when `name` already exists in the bucket and `force` is off. */
export async function checkUploadTarget(
  s3: S3Client,
  bucket: string,
  name: string,
  force: boolean,
): Promise<void> {
  checkDatasetName(name);
  const prefix = datasetPrefix(name);
  if (!force && (await exists(s3, bucket, `${prefix}${DATASET_MANIFEST_FILE}`)))
    throw new UserError(
      `dataset '${name}' already exists in s3://${bucket}/${prefix}; pass --force to replace it, or import under another --name`,
    );
}

/**
 * Uploads the dataset folder `dir` to `s3://<bucket>/datasets/<name>/`. An existing dataset of that name
 * is replaced only with `force`; its dataset.json is deleted first, so a run started mid-upload finds no
 * dataset rather than a mix of old and new files.
 */
export async function uploadDataset(
  s3: S3Client,
  bucket: string,
  dir: string,
  options: { force: boolean; onFile?: (key: string) => void },
): Promise<string[]> {
  const manifestPath = path.join(dir, DATASET_MANIFEST_FILE);
  const text = await fsp.readFile(manifestPath, 'utf8').catch(() => {
    throw new UserError(`${manifestPath}: missing; import the dataset first (bnn-pynq dataset import)`);
  });
  let manifest: DatasetManifest;
  try {
    manifest = parseDatasetManifest(text, manifestPath);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const name = manifest.name;
  checkDatasetName(name);
  const prefix = datasetPrefix(name);
  const manifestKey = `${prefix}${DATASET_MANIFEST_FILE}`;
  if (await exists(s3, bucket, manifestKey)) {
    if (!options.force)
      throw new UserError(
        `dataset '${name}' already exists in s3://${bucket}/${prefix}; pass --force to replace it, or import under another --name`,
      );
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: manifestKey })).catch((err) => {
      throw s3Error('deleting', `s3://${bucket}/${manifestKey}`, err);
    });
  }
  const keys: string[] = [];
  for (const file of uploadOrder(manifest)) {
    const body = await fsp.readFile(path.join(dir, file));
    const key = `${prefix}${file}`;
    await s3
      .send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType:
            CONTENT_TYPE[file] ?? (file.endsWith('.bin') ? 'application/octet-stream' : 'application/gzip'),
        }),
      )
      .catch((err) => {
        throw s3Error('uploading', `s3://${bucket}/${key}`, err);
      });
    keys.push(key);
    options.onFile?.(key);
  }
  return keys;
}
