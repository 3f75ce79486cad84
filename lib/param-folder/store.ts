/** What every param-folder back end (local, S3, board) takes and does: see ./index.ts. */
import type { OverlayName } from '../bnn/overlays';

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
