import { must } from '../defined';
import { InputFormatError } from '../errors';
import type { IdxImages, IdxLabels } from './idx';
import { checkImageShape, createSimulator, popcount32 } from './simulate';
import type { AccuracyTally, LfcParams, VerifyReport } from './types';

export interface VerifyOptions {
  /** Names for messages. */
  imagesName?: string;
  labelsName?: string;
  /** Receives the predicted class of every image (board rule). */
  predictions?: Uint8Array;
  /** Clock in milliseconds (injectable for tests). */
  now?: () => number;
}

/** Runs the hardware-exact simulator over a labelled set and tallies accuracy, per class and confusion. */
export function verify(
  params: LfcParams,
  images: IdxImages,
  labels: IdxLabels,
  options: VerifyOptions = {},
): VerifyReport {
  const imagesName = options.imagesName ?? 'images';
  const labelsName = options.labelsName ?? 'labels';
  checkImageShape(images, imagesName);
  if (images.count !== labels.count)
    throw new InputFormatError(
      labelsName,
      `${labels.count} labels for ${images.count} images in ${imagesName}: pass the label file that belongs to these images`,
    );
  const classes = params.classes.length;
  for (let i = 0; i < labels.count; i++) {
    const label = must(labels.labels[i], 'the labels');
    if (label >= classes)
      throw new InputFormatError(
        labelsName,
        `label ${label} at index ${i}, but the param folder has ${classes} classes`,
      );
  }
  const sim = createSimulator(params);
  const predicted = options.predictions ?? new Uint8Array(images.count);
  const now = options.now ?? (() => performance.now());
  const t0 = now();
  const bits = new Uint32Array(2 * images.count);
  sim.run(images.pixels, 0, images.count, predicted, bits);
  const elapsed = now() - t0;
  return { ...tallyAccuracy(labels.labels, predicted, params.classes, elapsed), ...countFiring(bits) };
}

/**
 * The accuracy tally of every verify (lfcW1A1's and every overlay's): overall, per class and the confusion
 * matrix of `predicted` against `labels` (each below `classNames.length`), and the time per image.
 */
export function tallyAccuracy(
  labels: Uint8Array,
  predicted: Uint8Array,
  classNames: readonly string[],
  elapsedMs: number,
): AccuracyTally {
  const classes = classNames.length;
  const count = labels.length;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const y = must(labels[i], 'the labels');
    const p = must(predicted[i], 'the predicted classes');
    const row = must(confusion[y], 'the confusion matrix');
    row[p] = must(row[p], `row ${y} of the confusion matrix`) + 1;
    if (p === y) correct++;
  }
  const perClass = classNames.map((name, index) => {
    const row = must(confusion[index], 'the confusion matrix');
    const total = row.reduce((a, b) => a + b, 0);
    const ok = must(row[index], `row ${index} of the confusion matrix`);
    return { index, name, total, correct: ok, accuracy: total === 0 ? null : (100 * ok) / total };
  });
  return {
    accuracy: count === 0 ? 0 : (100 * correct) / count,
    correct,
    total: count,
    perClass,
    confusion,
    microsecondsPerImage: count === 0 ? 0 : (elapsedMs * 1000) / count,
  };
}

/** How many images fired no output bit (read as class 0) or several (the highest wins). */
export function countFiring(bits: Uint32Array): { noBitFired: number; severalBitsFired: number } {
  let noBitFired = 0;
  let severalBitsFired = 0;
  for (let i = 0; i < bits.length; i += 2) {
    const c = popcount32(must(bits[i], 'the output bits')) + popcount32(must(bits[i + 1], 'the output bits'));
    if (c === 0) noBitFired++;
    else if (c > 1) severalBitsFired++;
  }
  return { noBitFired, severalBitsFired };
}
