import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
