import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CliResult, runCli, SHARED_DATA } from '../../support/cli';
import type { StandInBoard } from './standin-board';

export const MNIST_PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
export const MNIST_IMAGES = path.join(SHARED_DATA, 'mnist', 't10k-images-idx3-ubyte.gz');
export const MNIST_LABELS = path.join(SHARED_DATA, 'mnist', 't10k-labels-idx1-ubyte.gz');

/** `bnn-pynq board <sub> <host> ...` against the stand-in, with its ssh config, login user and Python. */
export const boardCli = (
  board: StandInBoard,
  sub: string,
  host: string,
  args: string[] = [],
): Promise<CliResult> => runCli(['board', sub, host, ...board.cliArgs, ...args]);

/** `bnn-pynq board validate <host>` against the stand-in, its options in this order when given. */
export const validate = (
  board: StandInBoard,
  o: { dataset: string; network?: string; images: string; labels?: string; predictionsOut?: string },
): Promise<CliResult> =>
  boardCli(board, 'validate', board.host, [
    '--dataset',
    o.dataset,
    ...(o.network === undefined ? [] : ['--network', o.network]),
    '--images',
    o.images,
    ...(o.labels === undefined ? [] : ['--labels', o.labels]),
    ...(o.predictionsOut === undefined ? [] : ['--predictions-out', o.predictionsOut]),
  ]);

/**
 * Runs `run` on a board that computes something else: the stand-in's bnn.py with `from` replaced by `to`
 * (which must change it), restored afterwards whatever happens.
 */
export async function withPatchedBnnPy(
  board: StandInBoard,
  from: string,
  to: string,
  run: () => Promise<void>,
): Promise<void> {
  const bnnPy = path.join(board.bnnDir, 'bnn.py');
  const original = readFileSync(bnnPy, 'utf8');
  const broken = original.replace(from, to);
  expect(broken).not.toBe(original);
  writeFileSync(bnnPy, broken);
  try {
    await run();
  } finally {
    writeFileSync(bnnPy, original);
  }
}

/** A Python script on the board's Python with the stand-in `bnn` package importable, without the CLI: its stderr. */
export function standInPython(board: StandInBoard, script: string, ...args: string[]): string {
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], {
    env: { ...process.env, PYTHONPATH: path.dirname(board.bnnDir), BOARD: 'Pynq-Z1' },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return String(r.stderr);
}

/** Runs a shell command on the board with plain ssh (independent of the code under test). */
export function onBoard(board: StandInBoard, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ssh', ['-F', board.sshConfig, '-l', 'root', board.host, command], (err, stdout, stderr) =>
      err ? reject(new Error(`${command}: ${stderr}`)) : resolve(stdout),
    );
  });
}

/** Every file of a folder: name -> bytes. */
export function readFolder(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(path.join(dir, n))]));
}

/** A writable copy of the shipped MNIST set (the fixture files are read-only), e.g. to damage it. */
const copies: string[] = [];
afterAll(() => {
  for (const c of copies.splice(0)) rmSync(c, { recursive: true, force: true });
});

export function copyOfMnistParams(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bnn-pynq-params-'));
  copies.push(root);
  const dir = path.join(root, 'mnist', 'lfcW1A1');
  cpSync(MNIST_PARAMS, dir, { recursive: true });
  for (const n of readdirSync(dir)) chmodSync(path.join(dir, n), 0o644);
  chmodSync(dir, 0o755);
  return dir;
}

/** Hidden folders an interrupted or failed push could leave in the params folder. */
export const leftovers = (board: StandInBoard): string[] =>
  readdirSync(board.paramsDir).filter((n) => n.startsWith('.'));

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
