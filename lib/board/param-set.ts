import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CLASSES_FILE, LFC_MAX_CLASSES } from '../bnn/lfc';
import { OVERLAYS, type OverlayName, expectedFiles as overlayFiles } from '../bnn/overlays';
import { parseClassNames } from '../bnn/params';
import { InputFormatError, UserError } from '../errors';
import { DATASET_NAME_PATTERN, DEFAULT_NETWORK, MANIFEST_FILE } from '../layout';
import { checkAgainstManifest, type ManifestFile, parseManifest, sha256Hex } from '../manifest';

/**
 * The files of a param set with their exact sizes, from the overlay table (docs/overlays.md §2.5; one size
 * rule for convert, verify and the board); classes.txt: any size > 0.
 */
export function expectedFiles(network: OverlayName = 'lfcW1A1'): Map<string, number | null> {
  const files = new Map<string, number | null>(overlayFiles(OVERLAYS[network]));
  files.set(CLASSES_FILE, null);
  return files;
}

export const LFC_SET_FILE_COUNT = 289;

/** A param set ready to push: the 289 files in manifest order, and what we know of where it came from. */
export interface ParamSet {
  /** Dataset named by the folder (`.../<dataset>/lfcW1A1`) or its manifest, if any. */
  dataset?: string;
  files: ManifestFile[];
  bytes: Map<string, Uint8Array>;
  /** Where it came from, for messages. */
  source: string;
}

/** Refuses, with one line, a set that is not exactly an lfcW1A1 param folder. */
export function checkParamSet(bytes: ReadonlyMap<string, Uint8Array>, where: string): void {
  const expected = expectedFiles();
  const missing = [...expected.keys()].filter((n) => !bytes.has(n));
  if (missing.length > 0)
    throw new InputFormatError(
      where,
      `incomplete lfcW1A1 param folder: ${missing.length} of ${LFC_SET_FILE_COUNT} files missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); convert or fetch the set again`,
    );
  for (const [name, size] of expected) {
    const got = (bytes.get(name) as Uint8Array).length;
    if (size !== null && got !== size)
      throw new InputFormatError(
        `${where}/${name}`,
        `${got} bytes, an lfcW1A1 ${name.endsWith('weights.bin') ? 'weights' : 'threshold'} file of layer ${name[0]} has ${size}: the file is truncated or from another network; convert or fetch the set again`,
      );
  }
  const classes = parseClassNames(new TextDecoder().decode(bytes.get(CLASSES_FILE)));
  if (classes.length === 0 || classes.length > LFC_MAX_CLASSES)
    throw new InputFormatError(
      `${where}/${CLASSES_FILE}`,
      `${classes.length} class names; the lfcW1A1 overlay needs 1 to ${LFC_MAX_CLASSES}, one per line`,
    );
}

/** Only the 289 set files, in a stable order, with their SHA-256: what the board checks against. */
export function toParamSet(all: ReadonlyMap<string, Uint8Array>, source: string, dataset?: string): ParamSet {
  checkParamSet(all, source);
  const bytes = new Map<string, Uint8Array>();
  for (const name of [...expectedFiles().keys()].sort()) bytes.set(name, all.get(name) as Uint8Array);
  const files = [...bytes].map(([p, b]) => ({ path: p, sha256: sha256Hex(b), size: b.length }));
  return { dataset, files, bytes, source };
}

/**
 * A local param folder: the lfcW1A1 folder itself, or a folder holding `lfcW1A1/`. The dataset is
 * taken from the parent folder's name when it is laid out as `<dataset>/lfcW1A1`. When a
 * manifest.json is there (a fetched or synced set), every file must match it first: a half-synced
 * folder is refused here, before anything is sent.
 */
export function loadLocalParamSet(dir: string): ParamSet {
  let folder = path.resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new UserError(
      `${dir}: no such folder; pass --params the lfcW1A1 param folder (e.g. params/fashion-mnist/lfcW1A1)`,
    );
  if (!existsSync(path.join(folder, CLASSES_FILE)) && existsSync(path.join(folder, DEFAULT_NETWORK)))
    folder = path.join(folder, DEFAULT_NETWORK);
  const all = new Map<string, Uint8Array>();
  for (const name of readdirSync(folder)) {
    const p = path.join(folder, name);
    if (statSync(p).isFile()) all.set(name, readFileSync(p));
  }
  let dataset: string | undefined;
  const parent = path.basename(path.dirname(folder));
  if (path.basename(folder) === DEFAULT_NETWORK && DATASET_NAME_PATTERN.test(parent)) dataset = parent;
  const manifestBytes = all.get(MANIFEST_FILE);
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
  }
  return toParamSet(all, folder, dataset);
}

/** Dataset names become a folder next to the board's package files: plain names only. */
export function checkDatasetName(name: string): void {
  if (/[/\\]/.test(name) || name === '.' || name === '..')
    throw new UserError(
      `dataset name ${JSON.stringify(name)} contains a path separator; give the bare name (e.g. fashion-mnist): the set goes to <bnn>/params/<dataset>/lfcW1A1 on the board`,
    );
  if (!DATASET_NAME_PATTERN.test(name))
    throw new UserError(
      `dataset name ${JSON.stringify(name)} is not valid: use lower-case letters, digits and dashes (e.g. fashion-mnist)`,
    );
}
