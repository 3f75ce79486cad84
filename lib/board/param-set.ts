import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { detectNetwork } from '../bnn/overlay-params';
import {
  CLASSES_TXT,
  isOverlayName,
  OVERLAY_NAMES,
  OVERLAYS,
  type OverlayName,
  expectedFiles as overlayFiles,
} from '../bnn/overlays';
import { parseClassNames } from '../bnn/params';
import { InputFormatError, UserError } from '../errors';
import { DATASET_NAME_PATTERN, DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import { checkAgainstManifest, type ManifestFile, parseManifest, sha256Hex } from '../manifest';

/** Every file of a `network` set with its exact size (docs/overlays.md §2.4-2.5); classes.txt: any size > 0. */
export function expectedFiles(network: OverlayName = DEFAULT_NETWORK): Map<string, number | null> {
  const files = new Map<string, number | null>(overlayFiles(OVERLAYS[network]));
  files.set(CLASSES_TXT, null);
  return files;
}

/** "an lfcW1A1", "a cnvW1A1" (as the names are read aloud). */
export const aNetwork = (network: string): string => `${network.startsWith('lfc') ? 'an' : 'a'} ${network}`;

/** Files of a complete set: lfcW1A1/lfcW1A2 289, cnvW1A1/cnvW1A2 179, cnvW2A2 101 (with classes.txt). */
export const setFileCount = (network: OverlayName): number => expectedFiles(network).size;
export const LFC_SET_FILE_COUNT = 289;

/** A param set ready to push: its files in manifest order, and what we know of where it came from. */
export interface ParamSet {
  /** The overlay it is for: the folder's name, else the one its file sizes fit. */
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
    const got = (bytes.get(name) as Uint8Array).length;
    if (size !== null && got !== size)
      throw new InputFormatError(
        `${where}/${name}`,
        `${got} bytes, ${aNetwork(network)} ${name.endsWith('weights.bin') ? 'weights' : 'threshold'} file of layer ${name.split('-')[0]} has ${size}: the file is truncated or from another network; convert or fetch the set again`,
      );
  }
  const classes = parseClassNames(new TextDecoder().decode(bytes.get(CLASSES_TXT)));
  const max = OVERLAYS[network].maxClasses;
  if (classes.length === 0 || classes.length > max)
    throw new InputFormatError(
      `${where}/${CLASSES_TXT}`,
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
  for (const name of [...expectedFiles(network).keys()].sort()) bytes.set(name, all.get(name) as Uint8Array);
  const files = [...bytes].map(([p, b]) => ({ path: p, sha256: sha256Hex(b), size: b.length }));
  return { network, dataset, files, bytes, source };
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
