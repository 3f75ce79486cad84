/**
 * Worker-thread entry of lib/bnn/parallel.ts: decodes the param folder it is given, runs the hardware
 * simulator on its share of the images and posts back classes, lanes and the time its computing took.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeOverlayFiles } from './overlay-params';
import { createOverlaySimulator, type SimulatorInput } from './overlay-simulate';
import type { OverlayName } from './overlays';

interface Job {
  network: OverlayName;
  files: Array<[string, Uint8Array]>;
  input: SimulatorInput;
  count: number;
}

const job = workerData as Job;
const params = decodeOverlayFiles(new Map(job.files), job.network, job.network);
const sim = createOverlaySimulator(params);
const classes = new Uint8Array(job.count);
const lanes = new Int32Array(job.count * params.classes.length);
const c0 = process.cpuUsage();
const t0 = performance.now();
sim.run(job.input, 0, job.count, classes, lanes);
const cpu = process.cpuUsage(c0);
parentPort?.postMessage(
  { classes, lanes, computeMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 },
  [classes.buffer, lanes.buffer],
);
