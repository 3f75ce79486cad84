/** What every param-folder back end (local, S3, board) takes, gives back and does: see ./index.ts. */
import type { OverlayName } from '../bnn/overlays';
import type { ParamManifest } from '../manifest';

/** What a param folder holds, wherever it goes. */
export interface ParamFolderContent {
  dataset: string;
  network: OverlayName;
  /** File name → bytes: the .bin files and classes.txt (never manifest.json: see `manifest`). */
  files: ReadonlyMap<string, Uint8Array>;
  /** The run it was converted from, if any (recorded in the S3 manifest). @default null */
  runId?: string | null;
  /** Board-rule accuracy in percent, as verified before writing (recorded in the S3 manifest). @default null */
  accuracy?: number | null;
  /** Where the files came from, for messages. @default the dataset/network */
  source?: string;
  /**
   * The manifest.json the files were read with and checked against, as stored. The local back end writes it
   * beside the files (a fetched folder keeps the manifest it was checked against); the S3 back end always
   * builds its own from the files; the board checks every file's SHA-256 itself. @default none
   */
  manifest?: StoredManifest;
}

/** A manifest.json as read: its text byte for byte, and what it says. */
export interface StoredManifest {
  text: string;
  parsed: ParamManifest;
}

/** A folder as a back end read it: the content, always with where it was read (`source`). */
export interface ParamFolderRead extends Omit<ParamFolderContent, 'dataset'> {
  /**
   * The dataset, as the manifest or the folder's `<dataset>/<network>` layout names it; a local folder read
   * by its path outside such a layout names none (`board push` then asks for --dataset).
   */
  dataset?: string;
  /** The folder read: a path, or the s3:// URI of its prefix. */
  source: string;
}

/** Where param folders are kept, by dataset and network: a local root, an S3 prefix, or a board. */
interface ParamFolderPlace {
  /** Where the folder for `dataset`/`network` is in this store (a path, an s3:// URI, `<board>:<path>`). */
  where(dataset: string, network: OverlayName): string;
}

/** The write side of a place that keeps param folders. */
export interface ParamFolderStore<Result> extends ParamFolderPlace {
  /** Writes the whole folder; on any failure the previous one is left as it was. */
  write(content: ParamFolderContent): Promise<Result>;
}

/**
 * The read side: the whole folder for `dataset`/`network`, or one clear error. A folder with a manifest is
 * returned only when every file matches it (S3 always has one: a folder without is "not there yet").
 * Readers do not apply the set's size rules: they give back what is stored (fetch mirrors a folder as its
 * manifest lists it); `toParamSet` (./layout.ts) checks a set before it goes to a board.
 */
export interface ParamFolderSource extends ParamFolderPlace {
  read(dataset: string, network: OverlayName): Promise<ParamFolderRead>;
}
