import path from 'node:path';
import yauzl from 'yauzl';
import { captures } from '../defined';
import { InputFormatError } from '../errors';
import { formatMiB, MAX_IMAGE_FILE_BYTES } from '../input-limits';

/** An image file (in a folder or a zip) above MAX_IMAGE_FILE_BYTES: listed like an undecodable image. */
export class FileTooLargeError extends Error {}

/** One file inside a zip, readable on demand (the archive stays open until `close`). */
export interface ZipFileEntry {
  /** The path inside the archive, '/'-separated, as stored. */
  name: string;
  /** `reserve(bytes)` is awaited with the declared size before the entry is inflated. */
  read(reserve?: (bytes: number) => Promise<void>): Promise<Buffer>;
}

export interface OpenZip {
  files: ZipFileEntry[];
  /** Directory entries ('a/b/' stored without files), so empty class folders are still seen. */
  directories: string[];
  close(): void;
}

/**
 * A path that would land outside the folder the zip is extracted into: absolute, drive-letter,
 * backslash-separated, or climbing with `..`. We never extract, but such an archive is malicious or
 * broken, and the user must hear about it rather than get a silently smaller dataset.
 */
export function zipPathEscapesRoot(name: string): boolean {
  if (name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name)) return true;
  const normal = path.posix.normalize(name);
  return normal === '..' || normal.startsWith('../');
}

const escapeError = (zipPath: string, entry: string) =>
  new InputFormatError(
    zipPath,
    `entry '${entry}' has a path outside the archive's root (absolute or with '..'); refusing the whole archive. Re-create the zip from the dataset folder itself (e.g. \`cd my-dataset && zip -r ../my-dataset.zip .\`)`,
  );

/** Opens `zipPath` and lists its entries; refuses it when any entry path escapes the root. */
export function openZip(zipPath: string): Promise<OpenZip> {
  return new Promise((resolve, reject) => {
    // yauzl also validates names (decodeStrings); we check first so the message names the entry.
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) {
        reject(
          new InputFormatError(zipPath, `not a readable zip archive (${err?.message ?? 'unknown error'})`),
        );
        return;
      }
      const files: ZipFileEntry[] = [];
      const directories: string[] = [];
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(e);
      };
      zip.on('error', (e: Error) => {
        const m = /^(?:invalid relative path|absolute path|invalid characters in fileName): (.*)$/.exec(
          e.message,
        );
        fail(
          m
            ? escapeError(zipPath, captures(m, 1, 'the yauzl path error')[0])
            : new InputFormatError(zipPath, `corrupt zip archive (${e.message})`),
        );
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        if (zipPathEscapesRoot(entry.fileName)) {
          fail(escapeError(zipPath, entry.fileName));
          return;
        }
        if (entry.fileName.endsWith('/')) directories.push(entry.fileName.slice(0, -1));
        else
          files.push({
            name: entry.fileName,
            read: async (reserve) => {
              if (entry.uncompressedSize <= MAX_IMAGE_FILE_BYTES) await reserve?.(entry.uncompressedSize);
              return new Promise<Buffer>((res, rej) => {
                // The declared size bounds memory: yauzl (validateEntrySizes) stops a stream that inflates
                // to more than it declares, so a small zip cannot expand one entry into gigabytes.
                if (entry.uncompressedSize > MAX_IMAGE_FILE_BYTES) {
                  rej(
                    new FileTooLargeError(
                      `too large (${formatMiB(entry.uncompressedSize)} uncompressed; an image file may be at most ${formatMiB(MAX_IMAGE_FILE_BYTES)})`,
                    ),
                  );
                  return;
                }
                zip.openReadStream(entry, (e, stream) => {
                  if (e || !stream) {
                    rej(e ?? new Error('no stream'));
                    return;
                  }
                  const chunks: Buffer[] = [];
                  stream.on('data', (c: Buffer) => chunks.push(c));
                  stream.on('error', rej);
                  stream.on('end', () => res(Buffer.concat(chunks)));
                });
              });
            },
          });
        zip.readEntry();
      });
      zip.on('end', () => {
        if (!failed) resolve({ files, directories, close: () => zip.close() });
      });
      zip.readEntry();
    });
  });
}
