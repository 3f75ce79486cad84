import { UserError } from './errors';

/**
 * File-system failures are the user's to fix (a wrong path, a full or read-only disk, permissions), so
 * each one becomes one line: what failed, on which path, and what to do. Every command gets this for
 * free: the CLI's top level maps any Node.js errno error it catches (lib/cli/main.ts); code that knows
 * more (which option named the path) maps it earlier with `fsError(err, { path, what })`.
 */
/** What to do, for the codes that share advice. */
const CHECK_PATH = 'check the path';
const FREE_SPACE = 'free some space or choose another location';
const MOVE_ASIDE = 'remove it or choose another path';

/** Code → [the problem, in words; what to do]. */
const FS_PROBLEMS: Readonly<Record<string, readonly [problem: string, fix: string]>> = {
  ENOENT: ['no such file or folder', CHECK_PATH],
  EACCES: [
    'permission denied',
    'check its permissions (ls -ld), run as a user who may use it, or choose another path',
  ],
  EPERM: [
    'operation not permitted',
    'check its permissions and attributes (ls -ld, lsattr), or choose another path',
  ],
  EISDIR: ['is a folder, not a file', 'pass a file'],
  ENOTDIR: ['a part of the path is not a folder', CHECK_PATH],
  EEXIST: ['already exists', MOVE_ASIDE],
  ENOTEMPTY: ['folder is not empty', MOVE_ASIDE],
  EBUSY: [
    'is busy (in use, or a mount point)',
    'choose another path (not the current folder or a mount point)',
  ],
  ENOSPC: ['no space left on the device', FREE_SPACE],
  EDQUOT: ['disk quota exceeded', FREE_SPACE],
  EFBIG: ['file too large for this file system', 'choose another location'],
  EROFS: ['read-only file system', 'choose a writable location'],
  ELOOP: ['too many levels of symbolic links (a symlink loop)', 'fix or remove the link'],
  ENAMETOOLONG: ['path too long', 'choose a shorter path'],
  EMFILE: ['too many open files', 'raise the limit (ulimit -n 4096) and retry'],
  ENFILE: ['too many open files on the system', 'close other programs and retry'],
  EPIPE: ['the pipe was closed by the reader', 'check the command reading the output'],
  EIO: ['input/output error', 'check the disk (dmesg) and retry'],
  ENXIO: ['no such device', 'pass a regular file'],
  ETXTBSY: ['file is busy', 'retry when the program using it has finished'],
  EXDEV: ['cannot move across file systems', 'choose an output on the same file system'],
  EINVAL: ['invalid path or operation', CHECK_PATH],
};

export const FS_ERROR_CODES: readonly string[] = Object.keys(FS_PROBLEMS);

/** True for a Node.js file-system error (errno code + syscall), whatever threw it. */
export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'string' &&
    e.code in FS_PROBLEMS &&
    (typeof e.syscall === 'string' || typeof e.path === 'string')
  );
}

/**
 * The one-line user error for a file-system failure. `what` says what the path was for ("the model",
 * "--out"); `path` overrides the error's own path (which may be a temporary name).
 */
export function fsError(err: unknown, context: { path?: string; what?: string } = {}): UserError {
  if (err instanceof UserError) return err;
  const e = err as NodeJS.ErrnoException;
  const known = FS_PROBLEMS[e.code ?? ''];
  const where = context.path ?? e.path ?? (e as { dest?: string }).dest;
  const what = context.what ? `${context.what}: ` : '';
  const at = where ? `${where}: ` : '';
  const problem = known ? `${known[0]} (${e.code})` : (e.message ?? String(err)).split('\n')[0];
  const fix = known ? `; ${known[1]}` : '';
  return new UserError(`${what}${at}${problem}${fix}`, { cause: err });
}
