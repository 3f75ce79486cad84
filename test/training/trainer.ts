/**
 * Running the real trainer (scripts/instance/bnn_train) on CPU with the pinned Theano/Lasagne/BNN-PYNQ sources,
 * built once by scripts/dev/cpu-env.sh: what the real-training tests share.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROGRESS_PROPERTIES } from '../../lib/report/progress';
import { REPO_ROOT } from '../support/cli';

export const PYTHON = '/usr/bin/python3';
export const MINUTES = 60_000;

/** Every field of a progress.jsonl line: its one definition, scripts/instance/progress.schema.json. */
export const PROGRESS_FIELDS = Object.keys(PROGRESS_PROPERTIES);

export interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * The CPU environment's own variables (PYTHONPATH, THEANO_FLAGS with the shared compile cache), built on
 * first use by scripts/dev/cpu-env.sh (a cold build unpacks the vendor sources: up to 15 minutes allowed).
 */
export function cpuEnvVars(): { PYTHONPATH: string; THEANO_FLAGS: string } {
  const built = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/dev/cpu-env.sh'), '--json'], {
    encoding: 'utf8',
    timeout: 15 * MINUTES,
  });
  if (built.status !== 0) throw new Error(`cpu-env.sh failed (status ${built.status}):\n${built.stderr}`);
  return JSON.parse(built.stdout);
}

/** The process environment plus the CPU environment's variables, for running bnn_train. */
export function cpuEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...cpuEnvVars(), PYTHONDONTWRITEBYTECODE: '1' };
}

/** `python3 -m bnn_train <args>`; onStdout sees the output so far (to send a signal at the right moment). */
export function train(
  env: NodeJS.ProcessEnv,
  args: string[],
  onStdout?: (text: string, child: ChildProcess) => void,
): Promise<Run> {
  const started = Date.now();
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(PYTHON, ['-W', 'ignore', '-m', 'bnn_train', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status, signal) =>
      resolve({ status, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 }),
    );
  });
}

export const progressLines = (runDir: string): Record<string, unknown>[] =>
  readFileSync(path.join(runDir, 'progress.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** A progress line without the fields that depend on the clock. */
export function withoutTimes(l: Record<string, unknown>): Record<string, unknown> {
  const { seconds, elapsed_seconds, eta_seconds, time, ...rest } = l;
  return rest;
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** CPU seconds the trainer used (user + system, with its children such as g++), from its last log line. */
export function cpuSeconds(run: Run): number {
  return Number(/bnn_train: cpu ([\d.]+) s, wall/.exec(run.stdout)?.[1] ?? Number.NaN);
}

export function compileSeconds(stdout: string): number {
  return Number(
    /compiled the training and inference functions in ([\d.]+) s/.exec(stdout)?.[1] ?? Number.NaN,
  );
}

export function explain(run: Run): string {
  return `exit ${run.status} (signal ${run.signal})\n--- stdout\n${run.stdout.slice(-3000)}\n--- stderr\n${run.stderr.slice(-3000)}`;
}

/** Asserts the exit status, showing the run's output when it differs. */
export function expectStatus(run: Run, status: number): void {
  expect({ status: run.status, why: run.status === status ? '' : explain(run) }).toEqual({
    status,
    why: '',
  });
}
