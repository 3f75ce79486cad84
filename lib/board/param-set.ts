/** Moved to lib/param-folder (layout.ts: the size rules and set checks; local.ts: loading a local set). */
export { expectedFiles, LFC_SET_FILE_COUNT } from '../param-folder/layout';
export { loadLocalParamSet } from '../param-folder/local';
