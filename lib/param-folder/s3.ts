import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isOverlayName, OVERLAY_NAMES, type OverlayName } from '../bnn/overlays';
import { aws, CloudError } from '../cloud/aws-errors';
import { listKeys, readText } from '../cloud/runs';
import { deleteObjects, getObjectBytes, listObjects, putObjectBytes } from '../conversion/s3-objects';
import { must } from '../defined';
import { UserError } from '../errors';
import { MANIFEST_FILE, PARAMS_ROOT_PREFIX, publishedParamsPrefix } from '../layout';
import { mapLimit } from '../limit';
import {
  buildManifest,
  checkAgainstManifest,
  type ParamManifest,
  parseManifest,
  sha256Hex,
} from '../manifest';
import type { ParamFolderRead, ParamFolderSource, ParamFolderStore, StoredManifest } from './store';

/**
 * Writes a param folder to S3 so that readers never trust a half-written one:
 *
 * 1. If the folder already holds exactly these files (same keys, sizes and MD5 ETags) and a manifest
 *    with the same content, nothing is written: a second run changes no byte and adds no version.
 * 2. Otherwise the old manifest.json is deleted first (from now on readers see "no manifest", never a
 *    stale manifest next to new files), changed files are uploaded, files that are no longer part of
 *    the folder are deleted, and the new manifest.json is written LAST.
 *
 * Readers (readS3ParamFolder below: `bnn-pynq fetch`, `board push --run`; and a local folder with its
 * manifest.json, lib/param-folder/local.ts) check every file against manifest.json, so an `aws s3 sync`
 * that races a publish yields a folder that fails the check instead of a silent mix.
 */

export interface FolderWriteResult {
  /** Files uploaded (new or changed bytes). */
  written: string[];
  /** Keys removed because the new folder no longer has them. */
  deleted: string[];
  /** True when manifest.json was (re)written. */
  manifestWritten: boolean;
  manifest: ParamManifest;
}

export type ManifestMeta = Omit<ParamManifest, 'schema' | 'files' | 'createdAt'>;

const md5Hex = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

/** Same folder content, ignoring only when the manifest was made. */
function sameManifestContent(a: ParamManifest, b: ParamManifest): boolean {
  return JSON.stringify({ ...a, createdAt: '' }) === JSON.stringify({ ...b, createdAt: '' });
}

export async function writeParamFolder(
  s3: S3Client,
  bucket: string,
  prefix: string,
  files: ReadonlyMap<string, Uint8Array>,
  meta: ManifestMeta,
  now: () => Date = () => new Date(),
): Promise<FolderWriteResult> {
  if (!prefix.endsWith('/')) throw new Error(`param folder prefix must end with '/': ${prefix}`);
  if (files.has(MANIFEST_FILE))
    throw new Error(`${MANIFEST_FILE} is written by writeParamFolder, not passed in`);
  const manifestKey = `${prefix}${MANIFEST_FILE}`;

  const existing = new Map((await listObjects(s3, bucket, prefix)).map((o) => [o.key, o]));
  const changed = [...files.keys()].filter((name) => {
    const bytes = must(files.get(name), name);
    const old = existing.get(`${prefix}${name}`);
    return !old || old.size !== bytes.length || old.etag !== md5Hex(bytes);
  });
  const stale = [...existing.keys()].filter(
    (key) => key !== manifestKey && !files.has(key.slice(prefix.length)),
  );

  let oldManifest: ParamManifest | undefined;
  if (existing.has(manifestKey)) {
    const text = await getObjectBytes(s3, { bucket, key: manifestKey });
    try {
      if (text)
        oldManifest = parseManifest(Buffer.from(text).toString('utf8'), `s3://${bucket}/${manifestKey}`);
    } catch {
      oldManifest = undefined; // an unreadable manifest is simply replaced
    }
  }

  const fresh = buildManifest(files, { ...meta, createdAt: now().toISOString() });
  if (changed.length === 0 && stale.length === 0 && oldManifest && sameManifestContent(oldManifest, fresh)) {
    return { written: [], deleted: [], manifestWritten: false, manifest: oldManifest };
  }

  if (existing.has(manifestKey)) await deleteObjects(s3, bucket, [manifestKey]);
  await mapLimit(changed, 16, async (name) => {
    const contentType = name.endsWith('.txt') ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    await putObjectBytes(s3, { bucket, key: `${prefix}${name}` }, must(files.get(name), name), contentType);
  });
  await deleteObjects(s3, bucket, stale);
  await putObjectBytes(
    s3,
    { bucket, key: manifestKey },
    Buffer.from(`${JSON.stringify(fresh, null, 2)}\n`),
    'application/json',
  );
  await checkFolderAfterWrite(s3, bucket, prefix, files);
  return { written: changed, deleted: stale, manifestWritten: true, manifest: fresh };
}

/** Two writers on one folder at once (e.g. two runs of one dataset converting together) leave a mix. */
export class FolderChangedError extends UserError {}

/**
 * Lists the folder once more after the manifest is written: if another writer changed a file meanwhile, the
 * folder no longer matches this manifest (readers already refuse it); say so instead of reporting success.
 * ETags that are not plain MD5s (multipart or SSE-KMS uploads) cannot be compared and are skipped.
 */
async function checkFolderAfterWrite(
  s3: S3Client,
  bucket: string,
  prefix: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  const now = new Map((await listObjects(s3, bucket, prefix)).map((o) => [o.key.slice(prefix.length), o]));
  const problems: string[] = [];
  for (const [name, bytes] of files) {
    const o = now.get(name);
    if (!o) problems.push(`${name} missing`);
    else if (o.size !== bytes.length || (/^[0-9a-f]{32}$/.test(o.etag) && o.etag !== md5Hex(bytes)))
      problems.push(`${name} differs`);
  }
  for (const name of now.keys())
    if (name !== MANIFEST_FILE && !files.has(name)) problems.push(`${name} appeared`);
  if (problems.length > 0) {
    throw new FolderChangedError(
      `s3://${bucket}/${prefix} changed while it was being written (${problems.slice(0, 3).join(', ')}` +
        `${problems.length > 3 ? ', ...' : ''}): another conversion was probably publishing the same folder. ` +
        'Readers will refuse it (it does not match its manifest); start the conversion again for the run you want there',
    );
  }
}

export interface S3ReadOptions {
  /** The folder in messages: `published params`, `run <id>`. @default its s3:// URI */
  label?: string;
  /**
   * Bytes already at hand for a file (fetch: the local copy), used instead of a download when their size
   * and SHA-256 match the manifest. Asked only once the manifest is known to be this folder's.
   * @default none: every file is downloaded
   */
  reuse?: (path: string) => Promise<Uint8Array | undefined>;
  /** Downloads in flight. @default 8 */
  concurrency?: number;
}

/** A folder read from S3: always with its manifest, and which files were downloaded or reused. */
export interface S3FolderRead extends ParamFolderRead {
  dataset: string;
  manifest: StoredManifest;
  /** Files downloaded, and files whose bytes at hand (S3ReadOptions.reuse) matched the manifest. */
  downloaded: string[];
  reused: string[];
  bytesDownloaded: number;
}

async function download(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const out = await aws(`s3:GetObject (s3://${bucket}/${key})`, () =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
  );
  if (!out.Body) throw new CloudError('failed', `s3://${bucket}/${key} came back empty`);
  return out.Body.transformToByteArray();
}

/**
 * Reads the param folder at `prefix`, trusting only its manifest.json: the manifest must exist, parse, name
 * this dataset and network and not list itself; every file is downloaded (or taken from `reuse` when it
 * matches) and checked against it, then the whole folder once more. On the first failure the other
 * downloads stop; nothing partial is returned.
 */
export async function readS3ParamFolder(
  s3: S3Client,
  bucket: string,
  prefix: string,
  dataset: string,
  network: OverlayName,
  options: S3ReadOptions = {},
): Promise<S3FolderRead> {
  const manifestKey = `${prefix}${MANIFEST_FILE}`;
  const label = options.label ?? `s3://${bucket}/${prefix}`;
  const manifestText = await readText({ s3 }, bucket, manifestKey);
  if (manifestText === undefined) {
    throw new CloudError(
      'not-found',
      `no param folder for ${label} (s3://${bucket}/${manifestKey} does not exist): convert a finished run first with \`bnn-pynq convert-run <runId>\``,
    );
  }
  let manifest: ParamManifest;
  try {
    manifest = parseManifest(manifestText, `s3://${bucket}/${manifestKey}`);
  } catch (err) {
    throw new CloudError('failed', `${(err as Error).message}: refusing to fetch; re-run the conversion`);
  }
  if (manifest.dataset !== dataset || manifest.network !== network) {
    throw new CloudError(
      'failed',
      `s3://${bucket}/${manifestKey} is for ${manifest.dataset}/${manifest.network}, not ${dataset}/${network}: refusing to fetch; re-run the conversion`,
    );
  }
  if (manifest.files.some((f) => f.path === MANIFEST_FILE)) {
    throw new CloudError('failed', `s3://${bucket}/${manifestKey} lists itself: refusing to fetch`);
  }

  const files = new Map<string, Uint8Array>();
  const downloaded: string[] = [];
  const reused: string[] = [];
  let bytesDownloaded = 0;
  // On the first failure no further file is fetched; nothing is returned before the fetches in flight end.
  await mapLimit(manifest.files, options.concurrency ?? 8, async (f) => {
    const have = await options.reuse?.(f.path);
    if (have && have.length === f.size && sha256Hex(have) === f.sha256) {
      files.set(f.path, have);
      reused.push(f.path);
      return;
    }
    const bytes = await download(s3, bucket, `${prefix}${f.path}`);
    if (bytes.length !== f.size || sha256Hex(bytes) !== f.sha256) {
      throw new CloudError(
        'failed',
        `s3://${bucket}/${prefix}${f.path} does not match its manifest (${bytes.length} bytes, SHA-256 ${sha256Hex(bytes).slice(0, 12)}…; manifest: ${f.size} bytes, ${f.sha256.slice(0, 12)}…): the folder is being republished or is damaged; nothing was changed locally. Retry in a minute, or re-run the conversion`,
      );
    }
    files.set(f.path, bytes);
    bytesDownloaded += bytes.length;
    downloaded.push(f.path);
  });
  // The whole folder, checked once more as it will be used.
  const problems = checkAgainstManifest(manifest, files);
  if (problems.length > 0) {
    throw new CloudError(
      'failed',
      `param folder does not match its manifest: ${problems.slice(0, 3).join('; ')}`,
    );
  }
  return {
    dataset,
    network,
    files,
    runId: manifest.runId,
    accuracy: manifest.accuracy,
    source: `s3://${bucket}/${prefix}`,
    manifest: { text: manifestText, parsed: manifest },
    downloaded,
    reused,
    bytesDownloaded,
  };
}

/**
 * A param folder found under a root (`params/` or `runs/<id>/params/`): found from the manifest keys
 * themselves rather than from "folders": a dataset whose publish never finished has files but no manifest,
 * and is not a param folder yet.
 */
export interface ParamFolderRef {
  dataset: string;
  network: OverlayName;
}

/** Every `<root><dataset>/<network>/manifest.json` (one folder per overlay), sorted by dataset then network. */
export async function listS3ParamFolders(
  s3: S3Client,
  bucket: string,
  root: string,
): Promise<ParamFolderRef[]> {
  const found: ParamFolderRef[] = [];
  for (const o of await listKeys({ s3 }, bucket, root)) {
    const parts = o.key.slice(root.length).split('/');
    const [dataset, network, file] = parts;
    if (parts.length === 3 && file === MANIFEST_FILE && dataset && network && isOverlayName(network))
      found.push({ dataset, network });
  }
  return found.sort((x, y) =>
    x.dataset === y.dataset
      ? OVERLAY_NAMES.indexOf(x.network) - OVERLAY_NAMES.indexOf(y.network)
      : x.dataset < y.dataset
        ? -1
        : 1,
  );
}

export interface PublishedParams extends ParamFolderRef {
  manifest: ParamManifest;
}

/** The manifests of every published param folder (`params/<dataset>/<network>/manifest.json`). */
export async function listPublished(s3: S3Client, bucket: string): Promise<PublishedParams[]> {
  const found: PublishedParams[] = [];
  for (const { dataset, network } of await listS3ParamFolders(s3, bucket, PARAMS_ROOT_PREFIX)) {
    const key = `${publishedParamsPrefix(dataset, network)}${MANIFEST_FILE}`;
    const text = await readText({ s3 }, bucket, key);
    if (text === undefined) continue;
    try {
      found.push({ dataset, network, manifest: parseManifest(text, `s3://${bucket}/${key}`) });
    } catch {
      // A broken manifest is reported by `fetch`; listings just leave it out.
    }
  }
  return found;
}

/** The S3 back end: both sides, its read with the options fetch needs. */
export interface S3ParamFolders extends ParamFolderStore<FolderWriteResult>, ParamFolderSource {
  read(dataset: string, network: OverlayName, options?: S3ReadOptions): Promise<S3FolderRead>;
}

/**
 * `s3://<bucket>/<prefix(dataset, network)>`: written with manifest.json last (a second write of the same
 * files adds nothing), read through its manifest (readS3ParamFolder).
 */
export function s3ParamFolders(
  s3: S3Client,
  bucket: string,
  prefix: (dataset: string, network: OverlayName) => string,
  now: () => Date = () => new Date(),
): S3ParamFolders {
  return {
    where: (dataset, network) => `s3://${bucket}/${prefix(dataset, network)}`,
    read: (dataset, network, options?: S3ReadOptions) =>
      readS3ParamFolder(s3, bucket, prefix(dataset, network), dataset, network, options),
    write: async (c) =>
      writeParamFolder(
        s3,
        bucket,
        prefix(c.dataset, c.network),
        c.files,
        { runId: c.runId ?? null, dataset: c.dataset, network: c.network, accuracy: c.accuracy ?? null },
        now,
      ),
  };
}
