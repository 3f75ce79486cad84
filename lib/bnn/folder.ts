import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputFormatError, UserError } from '../errors';
import { paramsFromFiles } from './params';
import type { LfcParams } from './types';

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
    throw new InputFormatError(
      dir,
      code === 'ENOTDIR'
        ? 'not a folder: pass the param folder (…/<dataset>/<network>/)'
        : 'no such folder: pass the param folder (…/<dataset>/<network>/) that convert or fetch wrote',
    );
  }
  const files = new Map<string, Uint8Array>();
  await Promise.all(
    names
      .filter((n) => n.endsWith('.bin') || n === 'classes.txt')
      .map(async (n) => {
        files.set(n, new Uint8Array(await fs.readFile(path.join(dir, n))));
      }),
  );
  return files;
}

/** Reads and decodes an lfcW1A1 param folder. */
export async function readParamFolder(dir: string): Promise<LfcParams> {
  return paramsFromFiles(await readParamFiles(dir), dir.replace(/\/+$/, ''));
}

/**
 * Writes `<outRoot>/<dataset>/<network>/` from `files`: first into a temporary sibling folder, then one
 * rename. On any error the temporary folder is removed, so a reader never sees a half-written folder.
 * Refuses to replace an existing folder unless `overwrite` (then the old one is swapped out and removed
 * only after the new one is in place).
 */
export async function writeParamFolderAtomic(
  outRoot: string,
  dataset: string,
  network: string,
  files: ReadonlyMap<string, Uint8Array>,
  options: { overwrite?: boolean } = {},
): Promise<string> {
  const parent = path.join(outRoot, dataset);
  const target = path.join(parent, network);
  const exists = await fs
    .stat(target)
    .then(() => true)
    .catch(() => false);
  if (exists && !options.overwrite)
    throw new UserError(
      `${target} already exists; remove it, choose another --out, or pass --force to replace it`,
    );
  const createdParent = !(await fs
    .stat(parent)
    .then(() => true)
    .catch(() => false));
  const cannotWrite = (err: unknown) =>
    new UserError(`cannot write ${target}: ${(err as Error).message}; check --out`, { cause: err });
  let tmp: string;
  try {
    await fs.mkdir(parent, { recursive: true });
    tmp = await fs.mkdtemp(path.join(parent, `.${network}.tmp-`));
  } catch (err) {
    throw cannotWrite(err);
  }
  let old: string | undefined;
  try {
    for (const [name, bytes] of files) await fs.writeFile(path.join(tmp, name), bytes);
    if (exists) {
      old = `${tmp}-old`;
      await fs.rename(target, old);
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    if (old) await fs.rename(old, target).catch(() => undefined);
    if (createdParent) await fs.rmdir(parent).catch(() => undefined);
    throw cannotWrite(err);
  }
  if (old) await fs.rm(old, { recursive: true, force: true });
  return target;
}
