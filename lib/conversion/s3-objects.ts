import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

/**
 * The few S3 operations the conversion job needs, as small functions over an S3Client, so tests
 * point them at the loopback S3 server and the Lambda at the real service.
 */

export interface S3Location {
  bucket: string;
  key: string;
}

export const s3Uri = ({ bucket, key }: S3Location): string => `s3://${bucket}/${key}`;

const isMissing = (err: unknown): boolean =>
  err instanceof NoSuchKey ||
  (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404));

/** The object's bytes, or undefined when there is no such key. */
export async function getObjectBytes(s3: S3Client, at: S3Location): Promise<Uint8Array | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }));
    if (!out.Body) return new Uint8Array(0);
    return await out.Body.transformToByteArray();
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export async function putObjectBytes(
  s3: S3Client,
  at: S3Location,
  bytes: Uint8Array,
  contentType = 'application/octet-stream',
): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: at.bucket, Key: at.key, Body: bytes, ContentType: contentType }),
  );
}

export interface ListedObject {
  key: string;
  size: number;
  /** The ETag without quotes: the MD5 of the bytes for single-part, non-KMS uploads. */
  etag: string;
}

/** Every object under a prefix (all pages). */
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      objects.push({ key: o.Key, size: o.Size ?? 0, etag: (o.ETag ?? '').replaceAll('"', '') });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Deletes keys in batches of 1000 (the DeleteObjects limit); fails on the first key S3 could not delete. */
export async function deleteObjects(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = out.Errors?.[0];
    if (failed)
      throw new Error(`could not delete s3://${bucket}/${failed.Key}: ${failed.Code} ${failed.Message}`);
  }
}
