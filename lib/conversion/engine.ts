import {
  CLASS_PRESETS,
  CLASSES_FILE,
  type ConvertSummary,
  compareWithFloatModel,
  convertLfc,
  type FloatComparison,
  loadLfcModel,
  parseClassNames,
  readIdxImages,
  readIdxLabels,
  sliceImages,
  sliceLabels,
  type VerifyReport,
  verify,
} from '../bnn';
import { InputFormatError } from '../errors';

/**
 * The one place where the conversion job calls the pure BNN toolkit (lib/bnn): npz -> model ->
 * param files, the hardware-exact simulator over the test set, and the float model next to it.
 * No I/O here.
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
  /** How many test images (from the start) the float model is compared on; the board accuracy always uses all. */
  floatCompareImages: number;
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
  /** Float model (argmax and board rule) vs the param folder; null when floatCompareImages is 0. */
  float: FloatComparison | null;
  microsecondsPerImage: number;
}

function classNamesFor(spec: ClassNames, classCount: number): { names: string[]; bytes?: Uint8Array } {
  if ('bytes' in spec) {
    const names = parseClassNames(new TextDecoder().decode(spec.bytes));
    if (names.length !== classCount)
      throw new InputFormatError(
        spec.source,
        `${names.length} class names, but the model has ${classCount} outputs; write exactly ${classCount} names, one per line`,
      );
    return { names, bytes: spec.bytes };
  }
  const preset = CLASS_PRESETS[spec.dataset];
  if (preset && preset.length === classCount) return { names: [...preset] };
  // Unknown dataset without classes.txt: number the classes, as BNN-PYNQ's own mnist folder does.
  return { names: Array.from({ length: classCount }, (_, i) => String(i)) };
}

export function convertAndVerify(input: ConversionInput): ConversionOutcome {
  const model = loadLfcModel(input.npz, input.npzName);
  const { names, bytes: classBytes } = classNamesFor(input.classes, model.classes);
  const converted = convertLfc(model, names);
  const files = new Map(converted.files);
  // A dataset's own classes.txt is published as is (line ends included): BNN-PYNQ's mnist folder uses CRLF.
  if (classBytes) files.set(CLASSES_FILE, classBytes);

  const images = readIdxImages(input.images, input.imagesName);
  const labels = readIdxLabels(input.labels, input.labelsName);
  const names_ = { imagesName: input.imagesName, labelsName: input.labelsName };
  const { microsecondsPerImage, ...board } = verify(converted.params, images, labels, names_);
  const n = Math.min(input.floatCompareImages, images.count);
  const float =
    n > 0
      ? compareWithFloatModel(model, converted.params, sliceImages(images, 0, n), sliceLabels(labels, 0, n), {
          ...names_,
          maxListed: 20,
        })
      : null;
  return {
    files,
    summary: converted.summary,
    classes: names,
    classesSource: input.classes.source,
    board,
    float,
    microsecondsPerImage,
  };
}
