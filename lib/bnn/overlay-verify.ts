import { InputFormatError } from '../errors';
import type { OverlayParams } from './overlay-params';
import { createOverlaySimulator, type SimulatorInput } from './overlay-simulate';
import type { DecisionRule, OverlayName } from './overlays';
import type { AccuracyTally } from './types';
import { tallyAccuracy } from './verify';

export interface OverlayVerifyReport extends AccuracyTally {
  network: OverlayName;
  decision: DecisionRule;
  /** Threads the simulator ran on (worker threads for large inputs). */
  threads: number;
  /**
   * LFC: images where no output bit fired (class 0). CNV: images whose every score is <= 0 (the batch
   * rule reads them as class 0).
   */
  noneFired: number;
  /** LFC: several bits fired (the highest wins). CNV: several classes share the maximum (the lowest wins). */
  ambiguous: number;
  /** Per image, the raw output lanes (LFC bits, CNV 16-bit scores), when asked for. */
  scores?: number[][];
}

export interface OverlayVerifyOptions {
  imagesName?: string;
  labelsName?: string;
  predictions?: Uint8Array;
  /** Keep every image's raw lanes in the report (`--scores`). */
  scores?: boolean;
  now?: () => number;
  /** The simulator's results computed elsewhere (worker threads, lib/bnn/parallel.ts): only tally them. */
  precomputed?: { classes: Uint8Array; lanes: Int32Array; computeMs: number; workers: number };
}

/** Refuses a label the param folder has no class for; `labelsName` names the labels in the message. */
export function checkLabels(labels: Uint8Array, classes: number, labelsName: string): void {
  for (const [i, label] of labels.entries())
    if (label >= classes)
      throw new InputFormatError(
        labelsName,
        `label ${label} at image ${i}, but the param folder has ${classes} classes`,
      );
}

/** Runs the hardware-exact simulator of any overlay over labelled images and tallies the board rule's accuracy. */
export function verifyOverlay(
  params: OverlayParams,
  input: SimulatorInput,
  labels: Uint8Array,
  options: OverlayVerifyOptions = {},
): OverlayVerifyReport {
  const count = labels.length;
  const classes = params.classes.length;
  checkLabels(labels, classes, options.labelsName ?? 'labels');
  const predicted = options.predictions ?? new Uint8Array(count);
  let lanes: Int32Array;
  let elapsed: number;
  const pre = options.precomputed;
  if (pre) {
    predicted.set(pre.classes);
    lanes = pre.lanes;
    elapsed = pre.computeMs;
  } else {
    lanes = new Int32Array(count * classes);
    const now = options.now ?? (() => performance.now());
    const t0 = now();
    createOverlaySimulator(params).run(input, 0, count, predicted, lanes);
    elapsed = now() - t0;
  }
  let noneFired = 0;
  let ambiguous = 0;
  const lfc = params.overlay.decision === 'highest-set-bit';
  for (let i = 0; i < count; i++) {
    const v = lanes.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...v);
    if (lfc ? max === 0 : max <= 0) noneFired++;
    else if (v.filter((s) => s === max).length > 1) ambiguous++;
  }
  return {
    network: params.overlay.name,
    decision: params.overlay.decision,
    ...tallyAccuracy(labels, predicted, params.classes, elapsed),
    threads: pre?.workers ?? 1,
    noneFired,
    ambiguous,
    ...(options.scores
      ? {
          scores: Array.from({ length: count }, (_, i) =>
            Array.from(lanes.subarray(i * classes, (i + 1) * classes)),
          ),
        }
      : {}),
  };
}
