import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { CommanderError } from 'commander';
import { type CliContext, processContext } from '../../lib/cli/env';
import { buildProgram, describeFailure } from '../../lib/cli/main';
import { captureTerminal } from '../../lib/cli/ui/terminal';
import { type CliResult, collectOutput, REPO_ROOT } from '../support/cli';

/**
 * The invariant harness's tools: a snapshot of every entry of a folder tree (type, mode, bytes, link
 * target), and two ways to run a command: in-process through the same program and failure mapping the
 * binary uses (fast: no Node start-up), or the real binary in a child process (optionally as another
 * user, or inside a private mount namespace).
 */

export type Tree = Map<string, string>;

/**
 * SHA-256 by file identity: a file whose inode, size, mtime and ctime (nanoseconds) are unchanged has the
 * same bytes (any write changes ctime), so an unchanged world is not re-read for every case.
 */
const hashes = new Map<string, string>();

/** Every entry under `root` (not following links): `type mode size sha256` or the link target. */
export function snapshot(root: string): Tree {
  const tree: Tree = new Map();
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    const st = lstatSync(abs, { bigint: true });
    const mode = (st.mode & 0o7777n).toString(8);
    if (st.isSymbolicLink()) tree.set(rel, `link ${readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      tree.set(rel, `dir ${mode}`);
      for (const name of readdirSync(abs).sort()) walk(rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      const identity = `${abs}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      let hash = hashes.get(identity) ?? 'unreadable';
      if (!hashes.has(identity)) {
        try {
          hash = createHash('sha256').update(readFileSync(abs)).digest('hex');
          hashes.set(identity, hash);
        } catch {
          // a file made unreadable for a permission case: its mode and size still count
        }
      }
      tree.set(rel, `file ${mode} ${st.size} ${hash}`);
    } else tree.set(rel, `other ${mode}`);
  };
  walk('');
  return tree;
}

/** What changed between two snapshots: `+ path`, `- path`, `~ path`. */
export function changes(before: Tree, after: Tree): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    const was = before.get(p);
    if (was === undefined) out.push(`+ ${p}`);
    else if (was !== v) out.push(`~ ${p}`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`- ${p}`);
  return out.sort();
}

/** Runs `bnn-pynq <args>` in this process: the real program, a captured terminal, main()'s failure mapping. */
export async function runInProcess(args: string[], cwd: string): Promise<CliResult> {
  const term = captureTerminal();
  const ctx: CliContext = {
    env: () => ({ term, cwd }),
    cloudEnv: (options) => ({ ...processContext.cloudEnv(options), term, cwd }),
  };
  const argv = ['node', 'bnn-pynq', ...args];
  const program = buildProgram(argv, ctx)
    .exitOverride()
    .configureOutput({ writeOut: (s) => term.out(s), writeErr: (s) => term.err(s) });
  let status = 0;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) status = err.exitCode;
    else {
      const failure = describeFailure(err);
      term.err(`${failure.line}\n`);
      status = failure.exitCode;
    }
  }
  return { status, stdout: term.stdout, stderr: term.stderr };
}

const BIN = path.join(REPO_ROOT, 'bin', 'bnn-pynq.js');

/**
 * Runs the real binary. `uid`: as that (unprivileged) user. `shell`: a shell script run instead, with
 * `$BNN` the command prefix (for mounts in a private namespace, pipes, ulimits).
 */
export function runBinary(
  args: string[],
  options: {
    cwd: string;
    uid?: number;
    gid?: number;
    shell?: string;
    /** A command the shell runs under (`unshare -m`). */
    wrap?: string[];
    env?: Record<string, string>;
  },
): Promise<CliResult> {
  const env = { ...process.env, NO_COLOR: '1', BNN: `${process.execPath} ${BIN}`, ...options.env };
  const child = options.shell
    ? spawn(
        options.wrap?.[0] ?? 'bash',
        [...(options.wrap?.slice(1) ?? []), ...(options.wrap ? ['bash'] : []), '-euc', options.shell],
        { cwd: options.cwd, env },
      )
    : spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, uid: options.uid, gid: options.gid });
  const result = collectOutput(child);
  child.stdin.end();
  return result;
}

/** The failure contract: non-zero exit, exactly one `error:` line, no stack trace. */
export function failureProblems(r: CliResult, message?: RegExp): string[] {
  const problems: string[] = [];
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.status === 0) problems.push('exit code 0');
  if (lines.length !== 1) problems.push(`${lines.length} stderr lines`);
  if (!/^error: /.test(lines[0] ?? '')) problems.push('first line is not `error: ...`');
  if (/internal error|\n\s+at |Error: .*\n\s+at/.test(r.stderr)) problems.push('stack trace');
  if (message && !message.test(lines[0] ?? '')) problems.push(`message does not match ${message}`);
  return problems;
}
