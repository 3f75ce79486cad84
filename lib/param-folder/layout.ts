/**
 * The param folder: what `<root>/<dataset>/<network>/` holds, how big each file is, and what makes a set
 * complete (docs/overlays.md §2.4-2.5). One home for the layout and the size rules; the back ends that read and
 * write folders (./local.ts, ./s3.ts, ./board.ts) and every command that checks one use these.
 */

import path from 'node:path';
import { detectNetwork, parseClassNames } from '../bnn/overlay-params';
import { CLASSES_FILE, OVERLAYS, type OverlayName, expectedFiles as overlayFiles } from '../bnn/overlays';
import { must } from '../defined';
import { InputFormatError, UserError } from '../errors';
import { DATASET_NAME_PATTERN, DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import { type ManifestFile, sha256Hex } from '../manifest';
import type { OutputKind } from '../safe-output';

/**
 * The files a param folder holds: the .bin files and classes.txt convert writes, and fetch's manifest.json.
 * `convert --force` and `fetch` replace an existing folder only when it holds nothing else (lib/safe-output.ts).
 */
export const PARAM_FOLDER_KIND: OutputKind = {
  name: 'param folder',
  ownsFile: (name) => /^[\w.-]+\.bin$/.test(name) || name === CLASSES_FILE || name === MANIFEST_FILE,
};

/** `<root>/<dataset>/<network>`: where a param folder lives under a local root (convert --out, fetch --out). */
export const paramFolderPath = (root: string, dataset: string, network: string): string =>
  path.join(root, dataset, network);

/** Every file of a `network` set with its exact size (docs/overlays.md §2.4-2.5); classes.txt: any size > 0. */
export function expectedFiles(network: OverlayName = DEFAULT_NETWORK): Map<string, number | null> {
  const files = new Map<string, number | null>(overlayFiles(OVERLAYS[network]));
  files.set(CLASSES_FILE, null);
  return files;
}

/**
 * The overlay of a folder's files: `given` (--network, or the folder's manifest), else the folder's name,
 * else the one whose sizes its .bin files fit exactly. A folder with .bin files that fits none is read as
 * lfcW1A1, whose checks name the first file that is wrong; one without any .bin file is refused, naming
 * --network. verify, `board push --params` and the local back end decide it here.
 */
export function folderNetwork(
  files: ReadonlyMap<string, Uint8Array>,
  folderName: string,
  given?: OverlayName,
): OverlayName {
  if (given) return given;
  try {
    return detectNetwork(files, folderName);
  } catch (err) {
    if ([...files.keys()].some((n) => n.endsWith('.bin'))) return DEFAULT_NETWORK;
    throw err;
  }
}

/** "an lfcW1A1", "a cnvW1A1" (as the names are read aloud). */
export const aNetwork = (network: string): string => `${network.startsWith('lfc') ? 'an' : 'a'} ${network}`;

/** Files of a complete set: lfcW1A1/lfcW1A2 289, cnvW1A1/cnvW1A2 179, cnvW2A2 101 (with classes.txt). */
export const setFileCount = (network: OverlayName): number => expectedFiles(network).size;
export const LFC_SET_FILE_COUNT = 289;

/** A param set ready to push: its files in manifest order, and what we know of where it came from. */
export interface ParamSet {
  /** The overlay it is for: --network, else a local folder's (folderNetwork) or a run's (its run.json). */
  network: OverlayName;
  /** Dataset named by the folder (`.../<dataset>/<network>`) or its manifest, if any. */
  dataset?: string;
  files: ManifestFile[];
  bytes: Map<string, Uint8Array>;
  /** Where it came from, for messages. */
  source: string;
}

/** Refuses, with one line, a set that is not exactly a `network` param folder. */
export function checkParamSet(
  bytes: ReadonlyMap<string, Uint8Array>,
  where: string,
  network: OverlayName = DEFAULT_NETWORK,
): void {
  const expected = expectedFiles(network);
  const missing = [...expected.keys()].filter((n) => !bytes.has(n));
  if (missing.length > 0)
    throw new InputFormatError(
      where,
      `incomplete ${network} param folder: ${missing.length} of ${expected.size} files missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); convert or fetch the set again`,
    );
  for (const [name, size] of expected) {
    const got = must(bytes.get(name), name).length;
    if (size !== null && got !== size)
      throw new InputFormatError(
        `${where}/${name}`,
        `${got} bytes, ${aNetwork(network)} ${name.endsWith('weights.bin') ? 'weights' : 'threshold'} file of layer ${name.split('-')[0]} has ${size}: the file is truncated or from another network; convert or fetch the set again`,
      );
  }
  const classes = parseClassNames(new TextDecoder().decode(bytes.get(CLASSES_FILE)));
  const max = OVERLAYS[network].maxClasses;
  if (classes.length === 0 || classes.length > max)
    throw new InputFormatError(
      `${where}/${CLASSES_FILE}`,
      `${classes.length} class names; the ${network} overlay needs 1 to ${max}, one per line`,
    );
}

/** Only the set's files, in a stable order, with their SHA-256: what the board checks against. */
export function toParamSet(
  all: ReadonlyMap<string, Uint8Array>,
  source: string,
  dataset?: string,
  network: OverlayName = DEFAULT_NETWORK,
): ParamSet {
  checkParamSet(all, source, network);
  const bytes = new Map<string, Uint8Array>();
  for (const name of [...expectedFiles(network).keys()].sort()) bytes.set(name, must(all.get(name), name));
  const files = [...bytes].map(([p, b]) => ({ path: p, sha256: sha256Hex(b), size: b.length }));
  return { network, dataset, files, bytes, source };
}

/** Dataset names become a folder next to the board's package files: plain names only. */
export function checkDatasetName(name: string): void {
  if (/[/\\]/.test(name) || name === '.' || name === '..')
    throw new UserError(
      `dataset name ${JSON.stringify(name)} contains a path separator; give the bare name (e.g. fashion-mnist): the set goes to <bnn>/params/<dataset>/<network> on the board`,
    );
  if (!DATASET_NAME_PATTERN.test(name))
    throw new UserError(
      `dataset name ${JSON.stringify(name)} is not valid: use lower-case letters, digits and dashes (e.g. fashion-mnist)`,
    );
}
