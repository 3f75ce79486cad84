/**
 * The local back end of the param folder (./layout.ts): reading a folder's files, writing one atomically
 * (lib/safe-output.ts), and loading a set to push to a board.
 */
import { existsSync, promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readInputFile } from '../bnn/files';
import { detectNetwork } from '../bnn/overlay-params';
import { CLASSES_TXT, isOverlayName, OVERLAY_NAMES, type OverlayName } from '../bnn/overlays';
import { InputFormatError, UserError } from '../errors';
import { fsError } from '../fs-errors';
import { DATASET_NAME_PATTERN, DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import { checkAgainstManifest, parseManifest } from '../manifest';
import { writeFolderAtomic } from '../safe-output';
import { PARAM_FOLDER_KIND, type ParamSet, paramFolderPath, toParamSet } from './layout';
import type { ParamFolderStore } from './store';

/**
 * Reads the .bin files and classes.txt of a param folder (`.../<dataset>/<network>/`) into memory;
 * a missing folder or a file in its place is one clear error.
 */
export async function readParamFiles(dir: string): Promise<Map<string, Uint8Array>> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
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
  const wanted = names.filter((n) => n.endsWith('.bin') || n === 'classes.txt');
  // One at a time is as fast here (small files) and keeps "too many open files" away.
  for (const n of wanted) {
    const file = path.join(dir, n);
    const st = await fs.stat(file).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT'
        ? new InputFormatError(
            file,
            'a dangling symbolic link where a param file should be; convert or fetch the folder again',
          )
        : fsError(err, { path: file, what: 'the param folder' });
    });
    if (!st.isFile())
      throw new InputFormatError(
        file,
        `${st.isDirectory() ? 'a folder' : 'not a regular file'} where a param file should be; convert or fetch the folder again`,
      );
    files.set(n, await readInputFile(file, 'a param file'));
  }
  return files;
}

/**
 * Writes `<outRoot>/<dataset>/<network>/` from `files` atomically (lib/safe-output.ts): a temporary sibling
 * folder, then one rename. Refuses to replace an existing folder unless `overwrite`, and even then only a
 * param folder (PARAM_FOLDER_KIND: nothing but .bin files, classes.txt and manifest.json), so `--force`
 * never deletes a model.npz or anything else the user keeps there.
 */
export async function writeParamFolderAtomic(
  outRoot: string,
  dataset: string,
  network: string,
  files: ReadonlyMap<string, Uint8Array>,
  options: { overwrite?: boolean } = {},
): Promise<string> {
  const target = paramFolderPath(outRoot, dataset, network);
  await writeFolderAtomic(
    target,
    [...files].map(([name, bytes]) => ({ name, bytes })),
    { replace: options.overwrite ?? false, kind: PARAM_FOLDER_KIND, what: '--out' },
  );
  return target;
}

/** The overlay of a folder's files: `network` if given, else the folder's name, else the one the sizes fit. */
function networkOf(
  files: ReadonlyMap<string, Uint8Array>,
  folder: string,
  network?: OverlayName,
): OverlayName {
  if (network) return network;
  try {
    return detectNetwork(files, path.basename(folder));
  } catch {
    // Not recognisable (a damaged set): read it as lfcW1A1, whose check names the first file that is wrong.
    return DEFAULT_NETWORK;
  }
}

/**
 * A local param folder: the set itself (`.../<dataset>/<network>`), or a folder holding one
 * `<network>/` set (with several, name the one to push). The network is the folder's name, else the
 * overlay whose file sizes the folder matches; the dataset is the parent folder's name when it is laid
 * out as `<dataset>/<network>`. When a manifest.json is there (a fetched or synced set), every file must
 * match it first: a half-synced folder is refused here, before anything is sent.
 */
export function loadLocalParamSet(dir: string, network?: OverlayName): ParamSet {
  let folder = path.resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new UserError(
      `${dir}: no such folder; pass --params the param folder (e.g. params/fashion-mnist/lfcW1A1)`,
    );
  if (!existsSync(path.join(folder, CLASSES_TXT))) {
    const inside = OVERLAY_NAMES.filter(
      (n) => (!network || n === network) && existsSync(path.join(folder, n, CLASSES_TXT)),
    );
    if (inside.length > 1)
      throw new UserError(
        `${dir}: holds param folders for ${inside.join(', ')}; pass --params ${path.join(dir, inside[0] as string)} (or --network)`,
      );
    if (inside.length === 1) folder = path.join(folder, inside[0] as string);
  }
  const all = new Map<string, Uint8Array>();
  for (const name of readdirSync(folder)) {
    const p = path.join(folder, name);
    if (statSync(p).isFile()) all.set(name, readFileSync(p));
  }
  let dataset: string | undefined;
  const parent = path.basename(path.dirname(folder));
  if (isOverlayName(path.basename(folder)) && DATASET_NAME_PATTERN.test(parent)) dataset = parent;
  const manifestBytes = all.get(MANIFEST_FILE);
  let manifestNetwork: OverlayName | undefined;
  if (manifestBytes) {
    all.delete(MANIFEST_FILE);
    const manifest = parseManifest(new TextDecoder().decode(manifestBytes), path.join(folder, MANIFEST_FILE));
    const problems = checkAgainstManifest(
      manifest,
      new Map([...all].filter(([n]) => manifest.files.some((f) => f.path === n))),
    );
    if (problems.length > 0)
      throw new InputFormatError(
        folder,
        `does not match its manifest.json (${problems.length} problem(s), first: ${problems[0]}); fetch or sync the set again`,
      );
    dataset = manifest.dataset || dataset;
    if (isOverlayName(manifest.network)) manifestNetwork = manifest.network;
  }
  const net = networkOf(all, folder, network ?? manifestNetwork);
  return toParamSet(all, folder, dataset, net);
}

/** `<root>/<dataset>/<network>/` on this machine; `overwrite` replaces a folder holding only param files. */
export function localParamFolders(
  root: string,
  options: { overwrite?: boolean } = {},
): ParamFolderStore<string> {
  return {
    where: (dataset, network) => paramFolderPath(root, dataset, network),
    write: async (c) => writeParamFolderAtomic(root, c.dataset, c.network, c.files, options),
  };
}
