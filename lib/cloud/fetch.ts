import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isOverlayName, type OverlayName } from '../bnn/overlays';
import { DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import type { ParamManifest } from '../manifest';
import { PARAM_FOLDER_KIND } from '../param-folder/layout';
import { localParamFolders } from '../param-folder/local';
import { readS3ParamFolder } from '../param-folder/s3';
import { checkNoOverlap, checkReplaceable, checkWritable, resolveReal } from '../safe-output';
import type { CloudClients } from './clients';

export interface FetchSource {
  bucket: string;
  /** S3 prefix of the param folder, ending in `/` (holds manifest.json and the files). */
  prefix: string;
  dataset: string;
  /** @default lfcW1A1 */
  network?: OverlayName;
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
 * Brings `<out>/<dataset>/<network>/` up to date with the param folder in S3: the S3 back end reads it
 * through its manifest (lib/param-folder/s3.ts readS3ParamFolder), reusing the local files whose SHA-256
 * already matches and checking every file; the local back end writes it (lib/param-folder/local.ts), with
 * that manifest, in a temporary sibling renamed into place. On any failure the previous local folder is
 * left exactly as it was.
 */
export async function fetchParams(
  clients: CloudClients,
  source: FetchSource,
  out: string,
  options: {
    /** Downloads in flight (S3ReadOptions.concurrency). @default 8 */
    concurrency?: number;
    /** The user's current folder, never replaced. @default process.cwd() */
    cwd?: string;
  } = {},
): Promise<FetchResult> {
  const network = source.network ?? DEFAULT_NETWORK;
  const folder = path.resolve(out, source.dataset, network);
  // The same output rules as every command (lib/safe-output.ts), before anything is downloaded: never the
  // current folder, and an existing folder is replaced only when it holds nothing but param files.
  await checkNoOverlap([], [{ path: folder, what: '--out' }], { cwd: options.cwd });
  await checkReplaceable(folder, { replace: true, kind: PARAM_FOLDER_KIND, what: '--out' });
  // What is there locally, looked at once the manifest is known to be this folder's.
  let local: Promise<Set<string>> | undefined;
  const localFiles = () =>
    (local ??= removeStaleTemps(path.dirname(folder), network)
      .then(() => listLocal(folder))
      .then((l) => new Set(l)));
  const read = await readS3ParamFolder(clients.s3, source.bucket, source.prefix, source.dataset, network, {
    label: source.label,
    concurrency: options.concurrency,
    reuse: async (p) =>
      (await localFiles()).has(p) ? readFile(path.join(folder, ...p.split('/'))) : undefined,
  });
  const had = await localFiles();
  const manifest = read.manifest.parsed;
  const listed = new Set([...manifest.files.map((f) => f.path), MANIFEST_FILE]);
  const result: FetchResult = {
    folder,
    manifest,
    added: read.downloaded.filter((p) => !had.has(p)).sort(),
    changed: read.downloaded.filter((p) => had.has(p)).sort(),
    unchanged: [...read.reused].sort(),
    removed: [...had].filter((p) => !listed.has(p)).sort(),
    bytesDownloaded: read.bytesDownloaded,
  };
  await localParamFolders(path.resolve(out), { overwrite: true }).write(read);
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
