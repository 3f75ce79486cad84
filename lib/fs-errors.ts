import { UserError } from './errors';

/**
 * File-system failures are the user's to fix (a wrong path, a full or read-only disk, permissions), so
 * each one becomes one line: what failed, on which path, and what to do. Every command gets this for
 * free: the CLI's top level maps any Node.js errno error it catches (lib/cli/main.ts); code that knows
 * more (which option named the path) maps it earlier with `fsError(err, { path, what })`.
 */
const FS_PROBLEMS: Readonly<Record<string, { problem: string; fix: string }>> = {
  ENOENT: { problem: 'no such file or folder', fix: 'check the path' },
  EACCES: {
    problem: 'permission denied',
    fix: 'check its permissions (ls -ld), run as a user who may use it, or choose another path',
  },
  EPERM: {
    problem: 'operation not permitted',
    fix: 'check its permissions and attributes (ls -ld, lsattr), or choose another path',
  },
  EISDIR: { problem: 'is a folder, not a file', fix: 'pass a file' },
  ENOTDIR: { problem: 'a part of the path is not a folder', fix: 'check the path' },
  EEXIST: { problem: 'already exists', fix: 'remove it or choose another path' },
  ENOTEMPTY: { problem: 'folder is not empty', fix: 'remove it or choose another path' },
  EBUSY: {
    problem: 'is busy (in use, or a mount point)',
    fix: 'choose another path (not the current folder or a mount point)',
  },
  ENOSPC: { problem: 'no space left on the device', fix: 'free some space or choose another location' },
  EDQUOT: { problem: 'disk quota exceeded', fix: 'free some space or choose another location' },
  EFBIG: { problem: 'file too large for this file system', fix: 'choose another location' },
  EROFS: { problem: 'read-only file system', fix: 'choose a writable location' },
  ELOOP: {
    problem: 'too many levels of symbolic links (a symlink loop)',
    fix: 'fix or remove the link',
  },
  ENAMETOOLONG: { problem: 'path too long', fix: 'choose a shorter path' },
  EMFILE: { problem: 'too many open files', fix: 'raise the limit (ulimit -n 4096) and retry' },
  ENFILE: { problem: 'too many open files on the system', fix: 'close other programs and retry' },
  EPIPE: { problem: 'the pipe was closed by the reader', fix: 'check the command reading the output' },
  EIO: { problem: 'input/output error', fix: 'check the disk (dmesg) and retry' },
  ENXIO: { problem: 'no such device', fix: 'pass a regular file' },
  ETXTBSY: { problem: 'file is busy', fix: 'retry when the program using it has finished' },
  EXDEV: { problem: 'cannot move across file systems', fix: 'choose an output on the same file system' },
  EINVAL: { problem: 'invalid path or operation', fix: 'check the path' },
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
  const problem = known ? `${known.problem} (${e.code})` : (e.message ?? String(err)).split('\n')[0];
  const fix = known ? `; ${known.fix}` : '';
  return new UserError(`${what}${at}${problem}${fix}`, { cause: err });
}
