import { readParamFiles } from '../param-folder/local';
import { paramsFromFiles } from './params';
import type { LfcParams } from './types';

// The param folder's layout, reading and atomic writing live in lib/param-folder (the local back end); these
// names stay here because lib/bnn/index.ts, the library's entry, exports them.
export { PARAM_FOLDER_KIND } from '../param-folder/layout';
export { readParamFiles, writeParamFolderAtomic } from '../param-folder/local';

/** Reads and decodes an lfcW1A1 param folder. */
export async function readParamFolder(dir: string): Promise<LfcParams> {
  return paramsFromFiles(await readParamFiles(dir), dir.replace(/\/+$/, ''));
}
