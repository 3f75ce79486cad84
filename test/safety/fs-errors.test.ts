import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeFailure } from '../../lib/cli/main';
import { FS_ERROR_CODES, fsError, isFsError } from '../../lib/fs-errors';

/**
 * Every file-system error code the issue lists becomes one line (what, which path, what to do) and a
 * user-error exit, never a stack trace: through describeFailure, which is what bin/bnn-pynq.js prints
 * for anything a command throws. Real errors from real system calls where this process (root) can cause
 * them; Node's own errno shape for the rest (full/read-only disks and permissions are also caused for real
 * by test/safety/invariants.test.ts, in a private mount namespace and as an unprivileged user).
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bnn-fs-errors-'));
  writeFileSync(path.join(dir, 'file'), 'x');
  mkdirSync(path.join(dir, 'folder'));
  symlinkSync('loop', path.join(dir, 'loop'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
};

/** What Node throws for a failed system call (as lib/internal/errors uvException builds it). */
const errno = (code: string, syscall: string, p: string) =>
  Object.assign(new Error(`${code}: failed, ${syscall} '${p}'`), { code, syscall, path: p, errno: -1 });

const cases: Array<[string, () => unknown, RegExp]> = [
  [
    'ENOENT',
    () => thrown(() => readFileSync(path.join(dir, 'missing'))),
    /missing: no such file or folder \(ENOENT\); check the path$/,
  ],
  [
    'EISDIR',
    () => thrown(() => writeFileSync(path.join(dir, 'folder'), 'x')),
    /folder: is a folder, not a file \(EISDIR\); pass a file$/,
  ],
  [
    'ENOTDIR',
    () => thrown(() => readFileSync(path.join(dir, 'file', 'x'))),
    /file\/x: a part of the path is not a folder \(ENOTDIR\)/,
  ],
  [
    'EEXIST',
    () => thrown(() => mkdirSync(path.join(dir, 'folder'))),
    /folder: already exists \(EEXIST\); remove it or choose another path$/,
  ],
  [
    'ELOOP',
    () => thrown(() => readFileSync(path.join(dir, 'loop'))),
    /loop: too many levels of symbolic links \(a symlink loop\) \(ELOOP\); fix or remove the link$/,
  ],
  [
    'EPERM',
    () => thrown(() => linkSync(path.join(dir, 'folder'), path.join(dir, 'hard'))),
    /folder: operation not permitted \(EPERM\)/,
  ],
  ['EBUSY', () => thrown(() => rmdirSync('/')), /\/: is busy \(in use, or a mount point\) \(EBUSY\)/],
  [
    'EACCES',
    () => errno('EACCES', 'open', '/data/model.npz'),
    /\/data\/model\.npz: permission denied \(EACCES\); check its permissions/,
  ],
  [
    'ENOSPC',
    () => errno('ENOSPC', 'write', '/mnt/full/x'),
    /\/mnt\/full\/x: no space left on the device \(ENOSPC\); free some space/,
  ],
  [
    'EROFS',
    () => errno('EROFS', 'mkdir', '/mnt/ro/x'),
    /\/mnt\/ro\/x: read-only file system \(EROFS\); choose a writable location$/,
  ],
  [
    'EMFILE',
    () => errno('EMFILE', 'open', '/data/a.png'),
    /a\.png: too many open files \(EMFILE\); raise the limit \(ulimit -n 4096\)/,
  ],
  ['EPIPE', () => errno('EPIPE', 'write', 'stdout'), /stdout: the pipe was closed by the reader \(EPIPE\)/],
];

test.each(cases)(
  '%s: one line naming the path and what to do, exit 2, no stack trace',
  (code, make, message) => {
    const err = make();
    expect((err as NodeJS.ErrnoException).code).toBe(code);
    expect(isFsError(err)).toBe(true);
    const { line, exitCode } = describeFailure(err);
    expect(line).toMatch(/^error: /);
    expect(line).toMatch(message);
    expect(line).not.toContain('\n');
    expect(line).not.toMatch(/internal error|\bat /);
    expect(exitCode).toBe(2);
  },
);

test('every listed code has a mapping', () => {
  for (const code of [
    'ENOENT',
    'EACCES',
    'EPERM',
    'EISDIR',
    'ENOTDIR',
    'EEXIST',
    'EBUSY',
    'ENOSPC',
    'EROFS',
    'ELOOP',
    'EMFILE',
    'EPIPE',
  ])
    expect(FS_ERROR_CODES).toContain(code);
});

test('a command can name what the path was for, and the user path replaces a temporary name', () => {
  const err = errno('ENOSPC', 'write', '/out/.lfcW1A1.bnn-tmp-1-abcdef01/3-0-thres.bin');
  expect(fsError(err, { path: 'params/mnist/lfcW1A1', what: 'cannot write --out' }).message).toBe(
    'cannot write --out: params/mnist/lfcW1A1: no space left on the device (ENOSPC); free some space or choose another location',
  );
});

test('anything that is not a user error still reports as an internal error (exit 70)', () => {
  expect(describeFailure(new TypeError('x is undefined')).exitCode).toBe(70);
});
