import { randomBytes } from 'node:crypto';
import { constants, existsSync, renameSync, rmSync } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { UserError } from './errors';
import { fsError } from './fs-errors';

/**
 * How every command writes its output, so that no argument can destroy a file the user did not name:
 *
 * 1. **No overlap.** Inputs and outputs are compared as real paths (symlinks resolved); an output that is,
 *    contains or lies inside an input, or that is or contains the current folder, is refused before
 *    anything is read or written (`checkNoOverlap`).
 * 2. **Ownership.** An existing output is replaced (with `--force`, or always for `fetch`) only when it is
 *    recognisably the command's own: a folder holding nothing but the files that command writes, a file
 *    with the content that command writes (`OutputKind`). Anything else is refused, naming what is in the way.
 * 3. **Atomic.** Everything is written into a temporary sibling (`.<name>.bnn-tmp-<pid>-<random>`, in the
 *    same folder so the final step is one rename), then renamed into place; the previous output is swapped
 *    out and removed only after the new one is in place. On any failure (ENOSPC, EACCES, SIGINT/SIGTERM)
 *    the temporary is removed and the previous output is left as it was; folders created for the output
 *    are removed again. Temporaries a killed process left behind are removed by the next write beside them
 *    (their process id is no longer alive).
 * 4. **Modes.** Folders are created 0755 and files 0644, minus the umask (never mkdtemp's 0700, which
 *    `scp -r` would carry to the board).
 */

export interface PathArg {
  /** The path as the user gave it. */
  path: string;
  /** What it is for messages: `the model`, `--images`, `--out`. */
  what: string;
}

/** What a command's output looks like, so that `--force` can tell its own output from the user's files. */
export interface OutputKind {
  /** For messages: `param folder`, `dataset folder`. */
  name: string;
  /** Folder outputs: true when `name` (a top-level entry) is a file this command writes. */
  ownsFile?: (name: string) => boolean;
  /** Folder outputs: checked on the whole folder after the names (e.g. our dataset.json is there). */
  ownsFolder?: (dir: string, names: string[]) => Promise<string | undefined>;
  /** File outputs: true when existing content is what this command writes. */
  ownsContent?: (bytes: Buffer) => boolean;
}

/** `--predictions` (verify) and `--predictions-out` (board validate): empty, or class indices one per line. */
export const PREDICTIONS_KIND: OutputKind = {
  name: 'predictions file',
  ownsContent: (bytes) => /^(\d+\n)*$/.test(bytes.toString('latin1').replace(/\d+$/, '')),
};

const TEMP_TAG = '.bnn-tmp-';
const OLD_TAG = '.bnn-old-';
const DIR_MODE = 0o755;
const FILE_MODE = 0o644;

/**
 * The real absolute path of `p`: realpath of its longest existing prefix, plus the rest. A dangling
 * symbolic link is followed to where it points (so an output spelled through a link into an input is seen).
 */
export async function resolveReal(p: string, depth = 0): Promise<string> {
  let current = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await realpath(current);
      return rest.length ? path.join(real, ...[...rest].reverse()) : real;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(err, { path: p });
      const link = await readlink(current).catch(() => undefined);
      if (link !== undefined) {
        if (depth >= 40) throw fsError(Object.assign(new Error('ELOOP'), { code: 'ELOOP' }), { path: p });
        const target = path.resolve(path.dirname(current), link);
        return resolveReal(rest.length ? path.join(target, ...[...rest].reverse()) : target, depth + 1);
      }
      const parent = path.dirname(current);
      if (parent === current) return path.resolve(p);
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

const inside = (child: string, parent: string): boolean =>
  child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

/**
 * Refuses any output that is, contains or lies inside an input, or that is or contains the current
 * folder (or the file system root). One line naming both.
 */
export async function checkNoOverlap(
  inputs: ReadonlyArray<PathArg | undefined>,
  outputs: ReadonlyArray<PathArg | undefined>,
  options: { cwd?: string } = {},
): Promise<void> {
  const base = options.cwd ?? process.cwd();
  const ins = await Promise.all(
    inputs
      .filter((i): i is PathArg => i !== undefined)
      .map(async (i) => ({ ...i, real: await resolveReal(path.resolve(base, i.path)) })),
  );
  const cwd = await resolveReal(base);
  for (const o of outputs) {
    if (!o) continue;
    const real = await resolveReal(path.resolve(base, o.path));
    if (real === path.parse(real).root)
      throw new UserError(`${o.what} ${o.path} is the file system root; choose a folder of its own`);
    if (inside(cwd, real))
      throw new UserError(
        `${o.what} ${o.path} is ${cwd === real ? 'the current folder' : `a parent of the current folder (${cwd})`}; it would be replaced as a whole: choose a new folder, e.g. ${o.what} ./out`,
      );
    for (const i of ins) {
      const same = real === i.real;
      if (same || inside(i.real, real) || inside(real, i.real)) {
        const how = same ? 'is' : inside(i.real, real) ? 'contains' : 'lies inside';
        throw new UserError(
          `${o.what} ${o.path} ${how} ${i.what} ${i.path}${real !== path.resolve(base, o.path) || i.real !== path.resolve(base, i.path) ? ` (real paths ${real}, ${i.real})` : ''}; an output must not overlap an input: choose another ${o.what}`,
        );
      }
    }
  }
}

/**
 * Whether a folder could be created (or written) at `dir`, without writing anything: every existing part
 * of the path is a folder (else ENOTDIR) and the nearest existing one is writable (else EACCES, or EROFS on
 * a read-only mount). For commands that must learn what to write from elsewhere (fetch lists S3 first) and
 * should refuse a bad output before that. Full disks (ENOSPC) only show when writing.
 */
export async function checkWritable(dir: string, what: string): Promise<void> {
  const abs = path.resolve(dir);
  let nearest = abs;
  for (;;) {
    const st = await stat(nearest).catch((err: NodeJS.ErrnoException) => {
      // ENOTDIR: a file further up, which the walk reaches and names
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw fsError(err, { path: dir, what: `cannot write ${what}` });
    });
    if (st && !st.isDirectory())
      throw new UserError(
        `cannot write ${what}: ${nearest === abs ? dir : nearest} is a file, not a folder (ENOTDIR); choose another ${what}`,
      );
    if (st || path.dirname(nearest) === nearest) break;
    nearest = path.dirname(nearest);
  }
  await access(nearest, constants.W_OK | constants.X_OK).catch((err) => {
    throw fsError(err, { path: nearest === abs ? dir : nearest, what: `cannot write ${what}` });
  });
}

// ---- temporaries: registered while they exist, removed on a signal, and after a crash by the next run ----

/** Live temporaries, and for a swapped-out previous output the path it must go back to. */
const live = new Map<string, string | undefined>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const onSignal = (signal: NodeJS.Signals) => {
  // The previous output first: if the signal came between its swap and the new one's rename, put it back.
  for (const [p, restoreTo] of live)
    if (restoreTo !== undefined && !existsSync(restoreTo)) renameSync(p, restoreTo);
  // A write still in the thread pool may add a file after the folder was listed (rmdir: ENOTEMPTY): list
  // and remove again; once the folder is gone, that write fails instead.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const p of live.keys()) {
    for (let attempt = 0; attempt < 50 && existsSync(p); attempt++) {
      try {
        rmSync(p, { recursive: true, force: true });
      } catch {
        Atomics.wait(pause, 0, 0, 2); // the pending write lands; the next attempt lists it again
      }
    }
  }
  live.clear();
  process.stderr.write(`\ninterrupted (${signal}): nothing was changed\n`);
  process.exit(128 + (osConstants.signals[signal] ?? 1));
};
function track(temp: string, restoreTo?: string): void {
  if (live.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  live.set(temp, restoreTo);
}
function untrack(temp: string): void {
  live.delete(temp);
  if (live.size === 0) for (const s of SIGNALS) process.off(s, onSignal);
}

const tempName = (base: string, tag: string) =>
  `.${base}${tag}${process.pid}-${randomBytes(4).toString('hex')}`;

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A name is a temporary of ours beside `base` (`.<base>.bnn-tmp-<pid>-<hex>`); returns its pid. */
export function temporaryOf(name: string, base?: string): number | undefined {
  const m = /^\.(.+)\.bnn-(?:tmp|old)-(\d+)-[0-9a-f]{8}$/.exec(name);
  if (!m || (base !== undefined && m[1] !== base)) return undefined;
  return Number(m[2]);
}

/** Removes temporaries beside `base` in `parent` whose process is gone (a crash or kill -9 left them). */
export async function removeStaleTemporaries(parent: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = temporaryOf(name, base);
    if (pid !== undefined && !pidAlive(pid))
      await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

/** mkdir -p with mode 0755; returns the first folder it created (to remove on failure), if any. */
async function makeParents(dir: string): Promise<string | undefined> {
  try {
    return await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    // A recursive mkdir reports ENOENT when it cannot create a parent (EROFS, EACCES): make the first
    // missing folder alone to get the real reason.
    let missing = dir;
    while (
      !(await lstat(path.dirname(missing)).then(
        () => true,
        () => false,
      ))
    ) {
      if (path.dirname(missing) === missing) throw err;
      missing = path.dirname(missing);
    }
    await mkdir(missing, { mode: DIR_MODE });
    throw err;
  }
}

/** Removes `dir` and its parents up to `top` when they are empty (folders made for a failed write). */
async function removeEmptyUpTo(dir: string, top: string | undefined): Promise<void> {
  if (!top) return;
  let d = dir;
  while (inside(d, top)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top) return;
    d = path.dirname(d);
  }
}

/** Why `--force` may not replace `dir` (a foreign file, a sub-folder), or undefined when it is ours. */
async function foreignContent(dir: string, kind: OutputKind): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (temporaryOf(e.name) !== undefined) continue;
    if (!e.isFile() || !kind.ownsFile?.(e.name))
      return `${path.join(dir, e.name)}${e.isDirectory() ? '/' : ''}`;
  }
  return kind.ownsFolder?.(
    dir,
    entries.map((e) => e.name),
  );
}

export interface FolderFile {
  /** Path inside the folder, '/'-separated (sub-folders are created). */
  name: string;
  bytes: Uint8Array | string;
}

/**
 * Whether the folder `target` may be written: absent, or present and (with `replace`) recognisably this
 * command's own output. Commands call it early to fail before the work; writeFolderAtomic calls it again.
 */
export async function checkReplaceable(
  target: string,
  options: { replace: boolean; kind: OutputKind; what: string; forceHint?: string },
): Promise<boolean> {
  const abs = path.resolve(target);
  const existing = await lstat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    if (err.code === 'ENOTDIR')
      throw new UserError(
        `${options.what}: ${target}: a part of the path is a file, not a folder; choose another ${options.what}`,
      );
    throw fsError(err, { path: target, what: options.what });
  });
  if (existing) {
    if (!existing.isDirectory())
      throw new UserError(
        `${target} exists and is ${existing.isSymbolicLink() ? 'a symbolic link' : 'a file'}, not a ${options.kind.name} this command wrote; move it away or choose another ${options.what}`,
      );
    if (!options.replace)
      throw new UserError(
        `${target} already exists; remove it, choose another ${options.what}, or pass ${options.forceHint ?? '--force'} to replace it`,
      );
    let foreign: string | undefined;
    try {
      foreign = await foreignContent(abs, options.kind);
    } catch (err) {
      throw fsError(err, { path: target, what: options.what });
    }
    if (foreign)
      throw new UserError(
        `refusing to replace ${target}: it holds ${foreign}, which is not part of a ${options.kind.name} this command writes; move that away or choose another ${options.what}`,
      );
  }
  return existing !== undefined;
}

/**
 * Writes the folder `target` atomically (see the module comment). `replace`: an existing `target` of this
 * `kind` may be replaced; without it an existing target is refused. `what` names the option in messages.
 */
export async function writeFolderAtomic(
  target: string,
  files: Iterable<FolderFile>,
  options: { replace: boolean; kind: OutputKind; what: string; forceHint?: string },
): Promise<void> {
  const abs = path.resolve(target);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  const existing = await checkReplaceable(target, options);
  let createdTop: string | undefined;
  let temp: string | undefined;
  let old: string | undefined;
  try {
    createdTop = await makeParents(parent);
    await removeStaleTemporaries(parent, base);
    temp = path.join(parent, tempName(base, TEMP_TAG));
    await mkdir(temp, { mode: DIR_MODE });
    track(temp);
    for (const f of files) {
      const file = path.join(temp, ...f.name.split('/'));
      if (f.name.includes('/')) await mkdir(path.dirname(file), { recursive: true, mode: DIR_MODE });
      await writeFile(file, f.bytes, { mode: FILE_MODE, flag: 'wx' });
    }
    if (existing) {
      old = path.join(parent, tempName(base, OLD_TAG));
      track(old, abs);
      await rename(abs, old);
    }
    await rename(temp, abs);
    untrack(temp);
    temp = undefined;
    // The new output is in place: from here the previous one is only removed, never restored.
    if (old) track(old);
  } catch (err) {
    if (temp) {
      await rm(temp, { recursive: true, force: true }).catch(() => undefined);
      untrack(temp);
    }
    if (old) {
      await rename(old, abs).catch(() => undefined);
      untrack(old);
    }
    await removeEmptyUpTo(parent, createdTop);
    throw fsError(err, { path: target, what: `cannot write ${options.what}` });
  }
  if (old) {
    await rm(old, { recursive: true, force: true }).catch(() => undefined);
    untrack(old);
  }
}

/**
 * Writes the file `target` atomically. An existing file is replaced only when `kind.ownsContent` says its
 * content is this command's (a report we wrote, a predictions list); anything else is refused.
 */
export async function writeFileAtomic(
  target: string,
  bytes: Uint8Array | string,
  options: { kind: OutputKind; what: string },
): Promise<void> {
  const abs = path.resolve(target);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  const existing = await lstat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw fsError(err, { path: target, what: options.what });
  });
  if (existing) {
    if (existing.isDirectory())
      throw new UserError(`${options.what} ${target} is a folder; pass a file name`);
    if (!existing.isFile())
      throw new UserError(
        `${options.what} ${target} exists and is not a regular file; choose another ${options.what}`,
      );
    const current = await readHead(abs).catch((err) => {
      throw fsError(err, { path: target, what: options.what });
    });
    if (!options.kind.ownsContent?.(current))
      throw new UserError(
        `refusing to overwrite ${target}: it is not a ${options.kind.name} this command wrote; choose another ${options.what} or move the file away`,
      );
  }
  const parentStat = await stat(parent).catch(() => undefined);
  if (!parentStat)
    throw new UserError(
      `${options.what} ${target}: folder ${path.dirname(target)} does not exist; create it or choose another path`,
    );
  if (!parentStat.isDirectory())
    throw new UserError(`${options.what} ${target}: ${path.dirname(target)} is a file, not a folder`);
  const temp = path.join(parent, tempName(base, TEMP_TAG));
  try {
    await removeStaleTemporaries(parent, base);
    track(temp);
    await writeFile(temp, bytes, { mode: FILE_MODE, flag: 'wx' });
    await rename(temp, abs);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw fsError(err, { path: target, what: `cannot write ${options.what}` });
  } finally {
    untrack(temp);
  }
}

/** The first 64 KiB of a file (enough to recognise our own output). */
async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
