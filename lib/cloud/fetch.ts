import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { isOverlayName } from '../bnn/overlays';
import { DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import { checkAgainstManifest, type ParamManifest, parseManifest, sha256Hex } from '../manifest';
import { PARAM_FOLDER_KIND } from '../param-folder/layout';
import {
  checkNoOverlap,
  checkReplaceable,
  checkWritable,
  resolveReal,
  writeFolderAtomic,
} from '../safe-output';
import { aws, CloudError } from './aws-errors';
import type { CloudClients } from './clients';
import { readText } from './runs';

export interface FetchSource {
  bucket: string;
  /** S3 prefix of the param folder, ending in `/` (holds manifest.json and the files). */
  prefix: string;
  dataset: string;
  network?: string;
  /** For messages: `published params` or `run <id>`. */
  label: string;
}

export interface FetchResult {
  /** Local folder now holding the params: `<out>/<dataset>/<network>`. */
  folder: string;
  manifest: ParamManifest;
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
  bytesDownloaded: number;
}

/** Local files of a folder (recursively), as manifest-style relative paths. */
async function listLocal(root: string, sub = ''): Promise<string[]> {
  if (!existsSync(path.join(root, sub))) return [];
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listLocal(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

async function download(clients: CloudClients, bucket: string, key: string): Promise<Uint8Array> {
  const out = await aws(`s3:GetObject (s3://${bucket}/${key})`, () =>
    clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
  );
  if (!out.Body) throw new CloudError('failed', `s3://${bucket}/${key} came back empty`);
  return out.Body.transformToByteArray();
}

/**
 * The output rules fetch can check before it knows (from S3) which `<out>/<dataset>/<network>/` folders it
 * will write, so that a bad `--out` is refused in one line without credentials or a network call: `--out`
 * can be made into a folder (no file in its path: ENOTDIR) and written (EACCES, EROFS), and the current
 * folder is not inside a param folder fetch could replace. Which folders it replaces, and whether they hold
 * only param files, is checked once the listing says (fetchParams), still before any download.
 */
export async function checkFetchDestination(
  out: string,
  options: { dataset?: string; cwd?: string } = {},
): Promise<void> {
  await checkWritable(out, '--out');
  const cwd = await resolveReal(options.cwd ?? process.cwd());
  const [dataset, network] = path.relative(await resolveReal(path.resolve(out)), cwd).split(path.sep);
  if (
    dataset &&
    dataset !== '..' &&
    network &&
    isOverlayName(network) &&
    (options.dataset === undefined || options.dataset === dataset)
  )
    await checkNoOverlap([], [{ path: path.join(out, dataset, network), what: '--out' }], {
      cwd: options.cwd,
    });
}

/**
 * Brings `<out>/<dataset>/<network>/` up to date with the param folder in S3, trusting only its manifest:
 * files whose local SHA-256 already matches are kept, the others are downloaded, every file of the
 * new folder is checked against the manifest, and the folder is assembled in a temporary sibling and
 * renamed into place. On any failure the previous local folder is left exactly as it was.
 */
export async function fetchParams(
  clients: CloudClients,
  source: FetchSource,
  out: string,
  options: {
    concurrency?: number /** The user's current folder, never replaced (default process.cwd()). */;
    cwd?: string;
  } = {},
): Promise<FetchResult> {
  const network = source.network ?? DEFAULT_NETWORK;
  const folder = path.resolve(out, source.dataset, network);
  // The same output rules as every command (lib/safe-output.ts), before anything is downloaded: never the
  // current folder, and an existing folder is replaced only when it holds nothing but param files.
  await checkNoOverlap([], [{ path: folder, what: '--out' }], { cwd: options.cwd });
  await checkReplaceable(folder, { replace: true, kind: PARAM_FOLDER_KIND, what: '--out' });
  const manifestKey = `${source.prefix}${MANIFEST_FILE}`;
  const manifestText = await readText(clients, source.bucket, manifestKey);
  if (manifestText === undefined) {
    throw new CloudError(
      'not-found',
      `no param folder for ${source.label} (s3://${source.bucket}/${manifestKey} does not exist): convert a finished run first with \`bnn-pynq convert-run <runId>\``,
    );
  }
  let manifest: ParamManifest;
  try {
    manifest = parseManifest(manifestText, `s3://${source.bucket}/${manifestKey}`);
  } catch (err) {
    throw new CloudError('failed', `${(err as Error).message}: refusing to fetch; re-run the conversion`);
  }
  if (manifest.dataset !== source.dataset || manifest.network !== network) {
    throw new CloudError(
      'failed',
      `s3://${source.bucket}/${manifestKey} is for ${manifest.dataset}/${manifest.network}, not ${source.dataset}/${network}: refusing to fetch; re-run the conversion`,
    );
  }
  if (manifest.files.some((f) => f.path === MANIFEST_FILE)) {
    throw new CloudError('failed', `s3://${source.bucket}/${manifestKey} lists itself: refusing to fetch`);
  }

  const parent = path.dirname(folder);
  await removeStaleTemps(parent, network);
  const localFiles = new Set(await listLocal(folder));
  const result: FetchResult = {
    folder,
    manifest,
    added: [],
    changed: [],
    unchanged: [],
    removed: [],
    bytesDownloaded: 0,
  };
  const fresh = new Map<string, Uint8Array>();
  const queue = [...manifest.files];
  let failed = false;
  const worker = async () => {
    for (let f = queue.shift(); f && !failed; f = queue.shift()) {
      const local = path.join(folder, ...f.path.split('/'));
      if (localFiles.has(f.path)) {
        const bytes = await readFile(local);
        if (bytes.length === f.size && sha256Hex(bytes) === f.sha256) {
          fresh.set(f.path, bytes);
          result.unchanged.push(f.path);
          continue;
        }
      }
      const bytes = await download(clients, source.bucket, `${source.prefix}${f.path}`);
      if (bytes.length !== f.size || sha256Hex(bytes) !== f.sha256) {
        throw new CloudError(
          'failed',
          `s3://${source.bucket}/${source.prefix}${f.path} does not match its manifest (${bytes.length} bytes, SHA-256 ${sha256Hex(bytes).slice(0, 12)}…; manifest: ${f.size} bytes, ${f.sha256.slice(0, 12)}…): the folder is being republished or is damaged; nothing was changed locally. Retry in a minute, or re-run the conversion`,
        );
      }
      fresh.set(f.path, bytes);
      result.bytesDownloaded += bytes.length;
      (localFiles.has(f.path) ? result.changed : result.added).push(f.path);
    }
  };
  // On the first failure the other workers stop taking files; nothing is written before all have finished.
  const settled = await Promise.allSettled(
    Array.from({ length: options.concurrency ?? 8 }, () =>
      worker().catch((err) => {
        failed = true;
        throw err;
      }),
    ),
  );
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  // The whole new folder, checked once more as it will be on disk.
  const problems = checkAgainstManifest(manifest, fresh);
  if (problems.length > 0) {
    throw new CloudError(
      'failed',
      `param folder does not match its manifest: ${problems.slice(0, 3).join('; ')}`,
    );
  }
  const listed = new Set([...manifest.files.map((f) => f.path), MANIFEST_FILE]);
  result.removed = [...localFiles].filter((p) => !listed.has(p)).sort();
  for (const list of [result.added, result.changed, result.unchanged]) list.sort();
  // Temporary sibling, then one rename; the previous folder stays as it was on any failure.
  await writeFolderAtomic(
    folder,
    [...[...fresh].map(([name, bytes]) => ({ name, bytes })), { name: MANIFEST_FILE, bytes: manifestText }],
    { replace: true, kind: PARAM_FOLDER_KIND, what: '--out' },
  );
  return result;
}

/**
 * Removes the temporary folders (`.<network>.fetch-*`) that fetch before lib/safe-output.ts left beside the
 * param folder when interrupted, so a later `scp -r <out>/<dataset>` does not carry them to the board (the
 * current temporaries are cleaned by lib/safe-output.ts). Only folders older than ten minutes.
 */
async function removeStaleTemps(parent: string, network: string, now = Date.now()): Promise<void> {
  const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(`.${network}.fetch-`)) continue;
    const full = path.join(parent, entry.name);
    const { mtimeMs } = await stat(full);
    if (now - mtimeMs > 10 * 60_000) await rm(full, { recursive: true, force: true });
  }
}

/** The exact commands that put a fetched folder on the board. */
export function boardCopyCommands(out: string, dataset: string): string[] {
  const local = path.join(out, dataset);
  return [
    `scp -r ${shellQuote(local)} xilinx@<board>:/usr/local/lib/python3.6/dist-packages/bnn/params/`,
    `bnn-pynq board push <board> --params ${shellQuote(out)} --dataset ${dataset}   # same, checked on the board`,
  ];
}

const shellQuote = (s: string): string => (/^[\w./@:-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
