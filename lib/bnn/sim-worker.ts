/**
 * Worker-thread entry of lib/bnn/parallel.ts: decodes the param folder it is given, runs the hardware
 * simulator on its share of the images and posts back classes, lanes and the time its computing took.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { must } from '../defined';
import { decodeOverlayFiles } from './overlay-params';
import { createOverlaySimulator, type SimulatorInput } from './overlay-simulate';
import type { OverlayName } from './overlays';
import { paramsFromFiles } from './params';
import { createSimulator } from './simulate';

interface Job {
  network: OverlayName;
  files: Array<[string, Uint8Array]>;
  input: SimulatorInput;
  count: number;
}

const job = workerData as Job;
const files = new Map(job.files);
const classes = new Uint8Array(job.count);
let lanes: Int32Array<ArrayBuffer>;
let c0: NodeJS.CpuUsage;
let t0: number;
if (job.network === 'lfcW1A1') {
  // lfcW1A1 has its own, faster engine (four neurons per pass, scalar 64-bit popcounts).
  const params = paramsFromFiles(files, job.network);
  const sim = createSimulator(params);
  const C = params.classes.length;
  const bits = new Uint32Array(2 * job.count);
  lanes = new Int32Array(job.count * C);
  c0 = process.cpuUsage();
  t0 = performance.now();
  sim.run(job.input.pixels, 0, job.count, classes, bits);
  for (let i = 0; i < job.count; i++)
    for (let j = 0; j < C; j++)
      lanes[i * C + j] = (must(bits[2 * i + (j >> 5)], 'output word') >>> (j & 31)) & 1;
} else {
  const params = decodeOverlayFiles(files, job.network, job.network);
  const sim = createOverlaySimulator(params);
  lanes = new Int32Array(job.count * params.classes.length);
  c0 = process.cpuUsage();
  t0 = performance.now();
  sim.run(job.input, 0, job.count, classes, lanes);
}
const cpu = process.cpuUsage(c0);
parentPort?.postMessage(
  { classes, lanes, computeMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 },
  [classes.buffer, lanes.buffer],
);
