import { performance } from 'node:perf_hooks';
import { convertLfc } from '../bnn/convert';
import { readIdxImages, readIdxLabels } from '../bnn/idx';
import { CLASSES_FILE } from '../bnn/lfc';
import { loadLfcModel } from '../bnn/model';
import { parseClassNames } from '../bnn/params';
import { classify } from '../bnn/simulate';
import type { ConvertSummary, FloatComparison, VerifyReport } from '../bnn/types';
import { InputFormatError } from '../errors';

/**
 * The one place where the conversion job calls the pure BNN toolkit (lib/bnn): npz -> model ->
 * param files, and the hardware-exact simulator over the test set. No I/O here.
 */

/** Where the class names come from: the dataset's classes.txt (kept byte for byte) or a preset by dataset name. */
export type ClassNames = { source: string; bytes: Uint8Array } | { source: 'preset'; dataset: string };

export interface ConversionInput {
  npz: Uint8Array;
  npzName: string;
  images: Uint8Array;
  imagesName: string;
  labels: Uint8Array;
  labelsName: string;
  classes: ClassNames;
}

export interface ConversionOutcome {
  /** File name -> bytes: 288 .bin files and classes.txt. */
  files: Map<string, Uint8Array>;
  summary: ConvertSummary;
  classes: string[];
  /** Where the class names came from. */
  classesSource: string;
  /** Board rule, hardware-exact, on the whole test set. */
  board: Omit<VerifyReport, 'microsecondsPerImage'>;
  /** Float model vs the param folder on the same images (null when the toolkit cannot compare). */
  float: FloatComparison | null;
  microsecondsPerImage: number;
}

/** Class names of the built-in datasets (used when the dataset folder has no classes.txt). */
const PRESETS: Record<string, string[]> = {
  'fashion-mnist': [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
};

function classNamesFor(spec: ClassNames, classCount: number): { names: string[]; bytes?: Uint8Array } {
  if (spec.source !== 'preset') {
    const { bytes } = spec as { source: string; bytes: Uint8Array };
    const names = parseClassNames(new TextDecoder().decode(bytes));
    if (names.length !== classCount)
      throw new InputFormatError(
        spec.source,
        `${names.length} class names, but the model has ${classCount} outputs; write exactly ${classCount} names, one per line`,
      );
    return { names, bytes };
  }
  const preset = PRESETS[(spec as { dataset: string }).dataset];
  if (preset && preset.length === classCount) return { names: preset };
  // Unknown dataset without classes.txt: number the classes, as BNN-PYNQ's own mnist folder does.
  return { names: Array.from({ length: classCount }, (_, i) => String(i)) };
}

export function convertAndVerify(input: ConversionInput): ConversionOutcome {
  const model = loadLfcModel(input.npz, input.npzName);
  const { names, bytes: classBytes } = classNamesFor(input.classes, model.classes);
  const converted = convertLfc(model, names);
  const files = new Map(converted.files);
  // A dataset's own classes.txt is published as is (line endings included): BNN-PYNQ's mnist folder uses CRLF.
  if (classBytes) files.set(CLASSES_FILE, classBytes);

  const images = readIdxImages(input.images, input.imagesName);
  const labels = readIdxLabels(input.labels, input.labelsName);
  if (images.count !== labels.count)
    throw new InputFormatError(
      input.labelsName,
      `${labels.count} labels for ${images.count} images in ${input.imagesName}; upload a matching pair`,
    );
  const started = performance.now();
  const predicted = classify(converted.params, images);
  const elapsed = performance.now() - started;
  const board = scorePredictions(predicted, labels.labels, names, images.pixels, images.count);
  return {
    files,
    summary: converted.summary,
    classes: names,
    classesSource: input.classes.source,
    board,
    float: null,
    microsecondsPerImage: images.count ? (elapsed * 1000) / images.count : 0,
  };
}

/** Accuracy, per class and confusion of board-rule predictions. */
function scorePredictions(
  predicted: Uint8Array,
  labels: Uint8Array,
  names: string[],
  _pixels: Uint8Array,
  count: number,
): Omit<VerifyReport, 'microsecondsPerImage'> {
  const c = names.length;
  const confusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const label = labels[i] as number;
    const guess = predicted[i] as number;
    if (label >= c)
      throw new InputFormatError(
        'labels',
        `label ${label} of image ${i} is not below the ${c} classes of the model`,
      );
    (confusion[label] as number[])[guess] = ((confusion[label] as number[])[guess] as number) + 1;
    if (label === guess) correct++;
  }
  const perClass = names.map((name, index) => {
    const row = confusion[index] as number[];
    const total = row.reduce((a, b) => a + b, 0);
    const ok = row[index] as number;
    return { index, name, total, correct: ok, accuracy: total ? (100 * ok) / total : null };
  });
  return {
    accuracy: count ? (100 * correct) / count : 0,
    correct,
    total: count,
    perClass,
    confusion,
    noBitFired: -1,
    severalBitsFired: -1,
  };
}
