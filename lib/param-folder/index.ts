/**
 * The param folder, one module: its layout and size rules (./layout.ts), and three back ends that write a
 * whole folder so that its readers see the previous folder or the new one, never a mix:
 *
 * - local (./local.ts): `<root>/<dataset>/<network>/`, a temporary sibling then one rename
 *   (lib/safe-output.ts); `convert` and `fetch` write here, `verify` and `board push --params` read here;
 * - S3 (./s3.ts): `<prefix>` with manifest.json written last; the conversion job writes here, `fetch` reads;
 * - board (lib/board/board.ts pushParamSet): `<bnn>/params/<dataset>/<network>` through board_helper.py,
 *   every file's SHA-256 checked on the board before the set is swapped in.
 *
 * Each back end is a {@link ParamFolderStore}: the same content (dataset, network, files) goes to any of them.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { OverlayName } from '../bnn/overlays';
import { type PushResult, pushParamSet } from '../board/board';
import type { BoardTarget } from '../board/ssh';
import { paramFolderPath, toParamSet } from './layout';
import { writeParamFolderAtomic } from './local';
import { type FolderWriteResult, writeParamFolder } from './s3';

/** What a param folder holds, wherever it goes. */
export interface ParamFolderContent {
  dataset: string;
  network: OverlayName;
  /** File name → bytes: the .bin files and classes.txt (never manifest.json: the S3 back end writes it). */
  files: ReadonlyMap<string, Uint8Array>;
  /** The run it was converted from, if any (recorded in the S3 manifest). @default null */
  runId?: string | null;
  /** Board-rule accuracy in percent, as verified before writing (recorded in the S3 manifest). @default null */
  accuracy?: number | null;
  /** Where the files came from, for messages. @default the dataset/network */
  source?: string;
}

/** One place param folders are kept: a local root, an S3 prefix, or a board. */
export interface ParamFolderStore<Result> {
  /** Where the folder for `dataset`/`network` is in this store (a path, an s3:// URI, `<board>:<path>`). */
  where(dataset: string, network: OverlayName): string;
  /** Writes the whole folder; on any failure the previous one is left as it was. */
  write(content: ParamFolderContent): Promise<Result>;
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

/** `s3://<bucket>/<prefix(dataset, network)>`, manifest.json last; a second write of the same files adds nothing. */
export function s3ParamFolders(
  s3: S3Client,
  bucket: string,
  prefix: (dataset: string, network: OverlayName) => string,
  now: () => Date = () => new Date(),
): ParamFolderStore<FolderWriteResult> {
  return {
    where: (dataset, network) => `s3://${bucket}/${prefix(dataset, network)}`,
    write: async (c) =>
      writeParamFolder(
        s3,
        bucket,
        prefix(c.dataset, c.network),
        c.files,
        { runId: c.runId ?? null, dataset: c.dataset, network: c.network, accuracy: c.accuracy ?? null },
        now,
      ),
  };
}

/** `<bnn>/params/<dataset>/<network>` on a PYNQ board; the set is checked (sizes, classes) before it is sent. */
export function boardParamFolders(target: BoardTarget): ParamFolderStore<PushResult> {
  return {
    where: (dataset, network) => `${target.host}:<bnn>/params/${dataset}/${network}`,
    write: async (c) =>
      pushParamSet(
        target,
        toParamSet(c.files, c.source ?? `${c.dataset}/${c.network}`, c.dataset, c.network),
        c.dataset,
      ),
  };
}
