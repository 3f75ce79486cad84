import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputFormatError } from '../errors';
import { fsError } from '../fs-errors';
import { type OutputKind, writeFolderAtomic } from '../safe-output';
import { readInputFile } from './files';
import { paramsFromFiles } from './params';
import type { LfcParams } from './types';

/**
 * The files a param folder holds: the .bin files and classes.txt convert writes, and fetch's manifest.json.
 * `convert --force` and `fetch` replace an existing folder only when it holds nothing else (lib/safe-output.ts).
 */
export const PARAM_FOLDER_KIND: OutputKind = {
  name: 'param folder',
  ownsFile: (name) => /^[\w.-]+\.bin$/.test(name) || name === 'classes.txt' || name === 'manifest.json',
};

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

/** Reads and decodes an lfcW1A1 param folder. */
export async function readParamFolder(dir: string): Promise<LfcParams> {
  return paramsFromFiles(await readParamFiles(dir), dir.replace(/\/+$/, ''));
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
  const target = path.join(outRoot, dataset, network);
  await writeFolderAtomic(
    target,
    [...files].map(([name, bytes]) => ({ name, bytes })),
    { replace: options.overwrite ?? false, kind: PARAM_FOLDER_KIND, what: '--out' },
  );
  return target;
}
