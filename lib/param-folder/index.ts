/**
 * The param folder, one module: its layout, which overlay a folder is, and the set's size rules
 * (./layout.ts), and three back ends over one interface (./store.ts):
 *
 * - local (./local.ts): `<root>/<dataset>/<network>/`. Written as a temporary sibling then one rename
 *   (lib/safe-output.ts): `convert`, and `fetch` with the manifest its files were checked against. Read as
 *   the .bin files and classes.txt, checked against a manifest.json beside them: `verify` (files as they
 *   are), `board push --params` (then checked as a set);
 * - S3 (./s3.ts): `<prefix>`. Written with manifest.json deleted first and written last: the conversion job.
 *   Read through the manifest only, every file's size and SHA-256: `fetch`, `board push --run`; listed by
 *   their manifest keys (a folder exists once its manifest does): `fetch`, `runs`, `status`;
 * - board (./board.ts, through lib/board/board.ts pushParamSet): `<bnn>/params/<dataset>/<network>` through
 *   board_helper.py, every file's SHA-256 checked on the board before the set is swapped in. Write-only:
 *   `board validate` reads the set it ran in the same ssh session, and nothing else needs a board's bytes.
 *
 * Writing is a `ParamFolderStore`: the same content (dataset, network, files) goes to any back end. Reading
 * is a `ParamFolderSource`: the same content comes back, with where it was read and its manifest.
 */
export { boardParamFolders } from './board';
export { localParamFolders } from './local';
export { s3ParamFolders } from './s3';
