/**
 * The param folder, one module: its layout and size rules (./layout.ts), and three back ends that write a
 * whole folder so that its readers see the previous folder or the new one, never a mix:
 *
 * - local (./local.ts): `<root>/<dataset>/<network>/`, a temporary sibling then one rename
 *   (lib/safe-output.ts); `convert` and `fetch` write here, `verify` and `board push --params` read here;
 * - S3 (./s3.ts): `<prefix>` with manifest.json written last; the conversion job writes here, `fetch` reads;
 * - board (./board.ts, through lib/board/board.ts pushParamSet): `<bnn>/params/<dataset>/<network>` through board_helper.py,
 *   every file's SHA-256 checked on the board before the set is swapped in.
 *
 * Each back end is a `ParamFolderStore` (./store.ts): the same content (dataset, network, files) goes to any of them.
 */
export { boardParamFolders } from './board';
export { localParamFolders } from './local';
export { s3ParamFolders } from './s3';
