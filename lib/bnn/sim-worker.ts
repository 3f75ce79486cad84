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

/** Set up the simulator for this job's network; the returned function computes classes and lanes. */
function prepare(): () => { classes: Uint8Array<ArrayBuffer>; lanes: Int32Array<ArrayBuffer> } {
  const classes = new Uint8Array(job.count);
  if (job.network === 'lfcW1A1') {
    // lfcW1A1 has its own, faster engine (four neurons per pass, scalar 64-bit popcounts).
    const params = paramsFromFiles(files, job.network);
    const sim = createSimulator(params);
    const C = params.classes.length;
    return () => {
      const bits = new Uint32Array(2 * job.count);
      const lanes = new Int32Array(job.count * C);
      sim.run(job.input.pixels, 0, job.count, classes, bits);
      for (let i = 0; i < job.count; i++)
        for (let j = 0; j < C; j++)
          lanes[i * C + j] = (must(bits[2 * i + (j >> 5)], 'output word') >>> (j & 31)) & 1;
      return { classes, lanes };
    };
  }
  const params = decodeOverlayFiles(files, job.network, job.network);
  const sim = createOverlaySimulator(params);
  return () => {
    const lanes = new Int32Array(job.count * params.classes.length);
    sim.run(job.input, 0, job.count, classes, lanes);
    return { classes, lanes };
  };
}

// Set up, say so, and compute when told: lib/bnn/parallel.ts starts every worker's computing at once, so
// one worker's set-up (loading, decoding) never runs beside another's computing on a 2-core machine.
const compute = prepare();
parentPort?.postMessage({ ready: true });
parentPort?.once('message', () => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { classes, lanes } = compute();
  const cpu = process.cpuUsage(c0);
  parentPort?.postMessage(
    { classes, lanes, computeMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 },
    [classes.buffer, lanes.buffer],
  );
});
