import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SimulatorInput } from './overlay-simulate';
import { OVERLAYS, type OverlayName } from './overlays';

/**
 * Runs the hardware simulator on `workers` worker threads (workersFor: one per core, at most 2), each on a
 * contiguous share of the images, for large inputs. The worker is lib/bnn/sim-worker.ts, loaded through
 * tsx's CommonJS hook (the sources are TypeScript; the CLI bundle keeps __dirname pointing at them).
 */

/**
 * Below this many images one thread is done before two workers are ready to compute (thread, tsx,
 * decoding the folder: about 0.12 s on the quiet 2-core machine, 0.4 s under load): an LFC image takes
 * 16 µs (lfcW1A1) to 60 µs (lfcW1A2) on one thread, a CNV image 1.5-2.5 ms.
 */
export const PARALLEL_MIN_IMAGES = { lfc: 20_000, cnv: 300 } as const;

export interface ParallelRun {
  classes: Uint8Array;
  lanes: Int32Array;
  /**
   * The slowest worker's compute time (after its setup), and the process's CPU time while the workers
   * computed (Node 20 has no per-thread CPU clock: each worker reads the process-wide one, so this is
   * the largest of their readings, which covers both threads' overlapping computing).
   */
  computeMs: number;
  cpuMs: number;
  /** From the first spawn to the last result, setup included. */
  wallMs: number;
  workers: number;
}

/** Workers worth starting for `count` images of `network` on this machine (1 = run in this thread). */
export function workersFor(network: OverlayName, count: number, max = os.availableParallelism()): number {
  return count >= PARALLEL_MIN_IMAGES[OVERLAYS[network].family] ? Math.max(1, Math.min(max, 2)) : 1;
}

const bytesPerImage = (input: SimulatorInput) => (input.kind === 'mnist' ? 784 : 3072);

export async function runParallel(
  files: ReadonlyMap<string, Uint8Array>,
  network: OverlayName,
  input: SimulatorInput,
  count: number,
  classCount: number,
  workers: number,
): Promise<ParallelRun> {
  const t0 = performance.now();
  const size = bytesPerImage(input);
  const share = Math.ceil(count / workers);
  const entry = path.join(__dirname, 'sim-worker.ts');
  // Resolved from this folder (require.resolve is not there in the CLI bundle).
  const tsx = createRequire(entry).resolve('tsx/cjs');
  interface Result {
    first: number;
    classes: Uint8Array;
    lanes: Int32Array;
    computeMs: number;
    cpuMs: number;
  }
  // Each worker sets up (thread, tsx, decoding the folder), says it is ready, and computes its share when
  // told; all are told at once, so no worker's set-up competes with another's computing for the cores.
  const jobs = Array.from({ length: workers }, (_, w) => {
    const first = w * share;
    const n = Math.max(0, Math.min(share, count - first));
    const worker = new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(entry)});`, {
      eval: true,
      workerData: {
        network,
        files: [...files],
        input: { kind: input.kind, pixels: input.pixels.slice(first * size, (first + n) * size) },
        count: n,
      },
    });
    // An error, or an exit before the result (the thread killed, out of memory), fails the run.
    const failed = new Promise<never>((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(
          new Error(`verify worker ${w + 1} of ${workers} stopped (exit code ${code}) before its result`),
        ),
      );
    });
    const ready = Promise.race([
      new Promise<void>((resolve) => worker.once('message', () => resolve())),
      failed,
    ]);
    const result = ready.then(() =>
      Promise.race([
        new Promise<Result>((resolve) => worker.once('message', (m) => resolve({ first, ...m }))),
        failed,
      ]),
    );
    // A worker that fails while setting up rejects `ready`, which is what is awaited and thrown; `result`
    // then rejects with the same error and is never awaited: without this it is an unhandled rejection.
    result.catch(() => undefined);
    return { worker, ready, result };
  });
  let results: Result[];
  try {
    await Promise.all(jobs.map((j) => j.ready));
    for (const j of jobs) j.worker.postMessage('compute');
    results = await Promise.all(jobs.map((j) => j.result));
  } finally {
    // A worker is stopped only once its setup has ended (ready, or failed on its own): Node 20 aborts the
    // whole process (an assertion in DecorateErrorStack) when a worker is terminated while its script is
    // still being evaluated and throwing, which is what the second of two failing workers is doing.
    await Promise.allSettled(jobs.map((j) => j.ready));
    for (const j of jobs) void j.worker.terminate();
  }
  const classes = new Uint8Array(count);
  const lanes = new Int32Array(count * classCount);
  for (const r of results) {
    classes.set(r.classes, r.first);
    lanes.set(r.lanes, r.first * classCount);
  }
  return {
    classes,
    lanes,
    computeMs: Math.max(...results.map((r) => r.computeMs)),
    cpuMs: Math.max(...results.map((r) => r.cpuMs)),
    wallMs: performance.now() - t0,
    workers,
  };
}
