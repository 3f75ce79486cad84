/**
 * The local back end of the param folder (./layout.ts): reading a folder (its files, checked against its
 * manifest.json when it has one), writing one atomically (lib/safe-output.ts), and loading a set to push
 * to a board. Reading is synchronous: a folder is at most a few hundred small files, read one at a time
 * (as fast here, and "too many open files" stays away).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { readInputFileSync } from '../bnn/files';
import { CLASSES_FILE, isOverlayName, OVERLAY_NAMES, type OverlayName } from '../bnn/overlays';
import { InputFormatError, UserError } from '../errors';
import { fsError } from '../fs-errors';
import { DATASET_NAME_PATTERN, MANIFEST_FILE } from '../layout';
import { checkAgainstManifest, parseManifest } from '../manifest';
import { type FolderFile, writeFolderAtomic } from '../safe-output';
import { folderNetwork, PARAM_FOLDER_KIND, type ParamSet, paramFolderPath, toParamSet } from './layout';
import type { ParamFolderRead, ParamFolderSource, ParamFolderStore, StoredManifest } from './store';

/** The param files of a folder, and its manifest.json's text when there is one. */
interface FolderFiles {
  files: Map<string, Uint8Array>;
  manifestText?: string;
}

/** A param file, or manifest.json, that `dir` holds: read through the same checks (a regular file, not too large). */
function readFolderFile(dir: string, name: string): Uint8Array {
  const file = path.join(dir, name);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? new InputFormatError(
          file,
          'a dangling symbolic link where a param file should be; convert or fetch the folder again',
        )
      : fsError(err, { path: file, what: 'the param folder' });
  }
  if (!st.isFile())
    throw new InputFormatError(
      file,
      `${st.isDirectory() ? 'a folder' : 'not a regular file'} where a param file should be; convert or fetch the folder again`,
    );
  return readInputFileSync(file, 'a param file');
}

/**
 * The .bin files and classes.txt of the param folder `dir` (`.../<dataset>/<network>/`), and with
 * `withManifest` its manifest.json; a missing folder, a file in its place, or a file that is not one is one
 * clear error.
 */
function readFolderFiles(dir: string, withManifest: boolean): FolderFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR')
      throw new InputFormatError(dir, 'not a folder: pass the param folder (…/<dataset>/<network>/)');
    if (code === 'ENOENT')
      throw new InputFormatError(
        dir,
        'no such folder: pass the param folder (…/<dataset>/<network>/) that convert or fetch wrote',
      );
    throw fsError(err, { path: dir, what: 'the param folder' });
  }
  const files = new Map<string, Uint8Array>();
  for (const n of names.filter((n) => n.endsWith('.bin') || n === CLASSES_FILE))
    files.set(n, readFolderFile(dir, n));
  const manifestText =
    withManifest && names.includes(MANIFEST_FILE)
      ? new TextDecoder().decode(readFolderFile(dir, MANIFEST_FILE))
      : undefined;
  return { files, manifestText };
}

/**
 * Reads the .bin files and classes.txt of a param folder (`.../<dataset>/<network>/`) into memory, as they
 * are (no manifest or size check: the decoder of its overlay checks the sizes, naming the first wrong file).
 */
export async function readParamFiles(dir: string): Promise<Map<string, Uint8Array>> {
  return readFolderFiles(dir, false).files;
}

export interface LocalReadOptions {
  /** The overlay (--network). @default the manifest's, else the folder's name, else the one its sizes fit */
  network?: OverlayName;
  /**
   * Check the files against the folder's manifest.json, when it has one (a fetched or synced set), and take
   * the dataset and network it names. verify measures a folder as it is and passes false. @default true
   */
  manifest?: boolean;
}

/**
 * The param folder `dir` (`.../<dataset>/<network>/`) as a ParamFolderRead: its files; the network (see
 * LocalReadOptions.network); the dataset from the manifest, else the parent folder's name when the folder
 * is laid out as `<dataset>/<network>`. With a manifest.json, every file it lists must match it: a
 * half-synced folder is refused here, before anything uses it.
 */
export function readLocalParamFolder(dir: string, options: LocalReadOptions = {}): ParamFolderRead {
  const folder = path.resolve(dir);
  const { files, manifestText } = readFolderFiles(dir, options.manifest ?? true);
  let dataset: string | undefined;
  const parent = path.basename(path.dirname(folder));
  if (isOverlayName(path.basename(folder)) && DATASET_NAME_PATTERN.test(parent)) dataset = parent;
  let manifest: StoredManifest | undefined;
  if (manifestText !== undefined) {
    const parsed = parseManifest(manifestText, path.join(folder, MANIFEST_FILE));
    const problems = checkAgainstManifest(
      parsed,
      new Map([...files].filter(([n]) => parsed.files.some((f) => f.path === n))),
    );
    if (problems.length > 0)
      throw new InputFormatError(
        folder,
        `does not match its manifest.json (${problems.length} problem(s), first: ${problems[0]}); fetch or sync the set again`,
      );
    manifest = { text: manifestText, parsed };
    dataset = parsed.dataset || dataset;
  }
  const named = manifest && isOverlayName(manifest.parsed.network) ? manifest.parsed.network : undefined;
  return {
    dataset,
    network: folderNetwork(files, path.basename(folder), options.network ?? named),
    files,
    source: folder,
    ...(manifest ? { manifest, runId: manifest.parsed.runId, accuracy: manifest.parsed.accuracy } : {}),
  };
}

/**
 * Writes `<outRoot>/<dataset>/<network>/` from `files` atomically (lib/safe-output.ts): a temporary sibling
 * folder, then one rename. Refuses to replace an existing folder unless `overwrite`, and even then only a
 * param folder (PARAM_FOLDER_KIND: nothing but .bin files, classes.txt and manifest.json), so `--force`
 * never deletes a model.npz or anything else the user keeps there. `manifestText`, when given, is written
 * as the folder's manifest.json (fetch: the manifest its files were checked against).
 */
export async function writeParamFolderAtomic(
  outRoot: string,
  dataset: string,
  network: string,
  files: ReadonlyMap<string, Uint8Array>,
  options: { overwrite?: boolean; manifestText?: string } = {},
): Promise<string> {
  const target = paramFolderPath(outRoot, dataset, network);
  const entries: FolderFile[] = [...files].map(([name, bytes]) => ({ name, bytes }));
  if (options.manifestText !== undefined) entries.push({ name: MANIFEST_FILE, bytes: options.manifestText });
  await writeFolderAtomic(target, entries, {
    replace: options.overwrite ?? false,
    kind: PARAM_FOLDER_KIND,
    what: '--out',
  });
  return target;
}

/**
 * A local param folder to push: the set itself (`.../<dataset>/<network>`), or a folder holding one
 * `<network>/` set (with several, name the one to push), read by readLocalParamFolder (checked against
 * its manifest.json when it has one) and checked as a set (./layout.ts toParamSet).
 */
export function loadLocalParamSet(dir: string, network?: OverlayName): ParamSet {
  let folder = path.resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new UserError(
      `${dir}: no such folder; pass --params the param folder (e.g. params/fashion-mnist/lfcW1A1)`,
    );
  if (!existsSync(path.join(folder, CLASSES_FILE))) {
    const inside = OVERLAY_NAMES.filter(
      (n) => (!network || n === network) && existsSync(path.join(folder, n, CLASSES_FILE)),
    );
    const [first] = inside;
    if (inside.length > 1 && first)
      throw new UserError(
        `${dir}: holds param folders for ${inside.join(', ')}; pass --params ${path.join(dir, first)} (or --network)`,
      );
    if (first) folder = path.join(folder, first);
  }
  const read = readLocalParamFolder(folder, { network });
  return toParamSet(read.files, read.source, read.dataset, read.network);
}

/** `<root>/<dataset>/<network>/` on this machine; `overwrite` replaces a folder holding only param files. */
export function localParamFolders(
  root: string,
  options: { overwrite?: boolean } = {},
): ParamFolderStore<string> & ParamFolderSource {
  return {
    where: (dataset, network) => paramFolderPath(root, dataset, network),
    read: async (dataset, network) => {
      const dir = paramFolderPath(root, dataset, network);
      const read = readLocalParamFolder(dir, { network });
      const named = read.manifest?.parsed;
      if (named && (named.dataset !== dataset || named.network !== network))
        throw new InputFormatError(
          path.join(dir, MANIFEST_FILE),
          `is for ${named.dataset}/${named.network}, not ${dataset}/${network}: fetch or sync the set again`,
        );
      return { ...read, dataset };
    },
    write: async (c) =>
      writeParamFolderAtomic(root, c.dataset, c.network, c.files, {
        ...options,
        manifestText: c.manifest?.text,
      }),
  };
}
