import {
  CLASS_PRESETS,
  CLASSES_FILE,
  type ConvertSummary,
  compareOverlayWithFloat,
  compareWithFloatModel,
  convertLfc,
  convertOverlay,
  loadLfcModel,
  maxClassesOf,
  OVERLAYS,
  type OverlayConvertSummary,
  type OverlayName,
  parseOverlayModel,
  readCifarRecords,
  readIdxImages,
  readIdxLabels,
  readNpz,
  type SimulatorInput,
  sliceImages,
  sliceLabels,
  verify,
  verifyOverlay,
} from '../bnn';
import { parseClassFile } from '../class-names';
import { InputFormatError } from '../errors';

/**
 * The one place where the conversion job calls the pure BNN toolkit (lib/bnn): npz -> model ->
 * param files, the hardware-exact simulator over the test set, and the float model next to it.
 * No I/O here.
 */

/** Where the class names come from: the dataset's classes.txt (kept byte for byte) or a preset by dataset name. */
export type ClassNames = { source: string; bytes: Uint8Array } | { source: 'preset'; dataset: string };

/** The dataset's test set: idx images + labels (LFC), or CIFAR-10 binary records, labels included (CNV). */
export type TestSet =
  | { kind: 'idx'; images: Uint8Array; imagesName: string; labels: Uint8Array; labelsName: string }
  | { kind: 'cifar'; records: Uint8Array; recordsName: string };

export interface ConversionInput {
  network: OverlayName;
  npz: Uint8Array;
  npzName: string;
  testSet: TestSet;
  classes: ClassNames;
  /** How many test images (from the start) the float model is compared on; the board accuracy always uses all. */
  floatCompareImages: number;
}

/** The board's decision rule, hardware-exact, on the whole test set. */
export interface BoardResult {
  rule: string;
  accuracy: number;
  correct: number;
  total: number;
  perClass: Array<{ index: number; name: string; total: number; correct: number; accuracy: number | null }>;
  confusion: number[][];
  /** LFC: no output bit fired; CNV: every score <= 0. Either way the board answers class 0. */
  noneFired: number;
  /** LFC: several bits fired (the highest wins); CNV: several classes share the maximum (the lowest wins). */
  ambiguous: number;
}

/** The float model it was converted from, next to the hardware, on the first test images. */
export interface FloatResult {
  images: number;
  /** Argmax of the float model in the training graph's order: what training reports. */
  argmaxAccuracy: number;
  /** The board's rule on the float model (overlay order for CNV). */
  boardRuleAccuracy: number;
  agreementWithHardware: { same: number; percent: number };
  /** CNV: images whose class changes at each step from training's to the board's. */
  causes?: { poolOrder: number; lastLayerAndRule: number; thresholdRounding: number };
  disagreements: unknown[];
}

export interface ConversionOutcome {
  /** File name -> bytes: the .bin files and classes.txt. */
  files: Map<string, Uint8Array>;
  summary: ConvertSummary | OverlayConvertSummary;
  classes: string[];
  /** Where the class names came from. */
  classesSource: string;
  board: BoardResult;
  /** Float model (argmax and board rule) vs the param folder; null when floatCompareImages is 0. */
  float: FloatResult | null;
  microsecondsPerImage: number;
}

/** Test images the CNV float model is compared on (it must fit the Lambda's minutes next to the board run). */
export const CNV_FLOAT_COMPARE_MAX = 500;

const RULES = {
  'highest-set-bit': 'highest set output bit, 0 if none (BNN-PYNQ batch path)',
  'max-positive-score': 'first maximum score, 0 if every score <= 0 (BNN-PYNQ batch path)',
} as const;

function classNamesFor(
  spec: ClassNames,
  classCount: number,
  network: OverlayName,
): { names: string[]; bytes?: Uint8Array } {
  if ('bytes' in spec) {
    // The same class-name rule as convert --classes and dataset import (lib/class-names.ts); a breach is an
    // InputFormatError, which the job answers as a refusal (nothing published).
    const names = parseClassFile(new TextDecoder().decode(spec.bytes), spec.source, {
      max: maxClassesOf(network),
      maxLabel: `the ${network} overlay`,
    });
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
  return input.network === 'lfcW1A1' ? convertLfcW1A1(input) : convertOtherOverlay(input);
}

function idxTestSet(input: ConversionInput) {
  const t = input.testSet;
  if (t.kind !== 'idx')
    throw new InputFormatError(
      t.recordsName,
      `${input.network} reads idx images and labels, not CIFAR-10 records`,
    );
  const images = readIdxImages(t.images, t.imagesName);
  const labels = readIdxLabels(t.labels, t.labelsName);
  return { images, labels, names: { imagesName: t.imagesName, labelsName: t.labelsName } };
}

/** lfcW1A1: the original converter (and its float comparison), byte-identical with finnthesizer. */
function convertLfcW1A1(input: ConversionInput): ConversionOutcome {
  const model = loadLfcModel(input.npz, input.npzName);
  const { names, bytes: classBytes } = classNamesFor(input.classes, model.classes, input.network);
  const converted = convertLfc(model, names);
  const files = new Map(converted.files);
  // A dataset's own classes.txt is published as is (line ends included): BNN-PYNQ's mnist folder uses CRLF.
  if (classBytes) files.set(CLASSES_FILE, classBytes);

  const { images, labels, names: names_ } = idxTestSet(input);
  const { microsecondsPerImage, noBitFired, severalBitsFired, ...board } = verify(
    converted.params,
    images,
    labels,
    names_,
  );
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
    board: { rule: RULES['highest-set-bit'], ...board, noneFired: noBitFired, ambiguous: severalBitsFired },
    float: float && {
      images: float.total,
      argmaxAccuracy: float.argmax.accuracy,
      boardRuleAccuracy: float.boardRule.accuracy,
      agreementWithHardware: float.agreement,
      disagreements: float.disagreements,
    },
    microsecondsPerImage,
  };
}

/** lfcW1A2 and the CNV overlays: the overlay table's converter and hardware-exact verifier (lib/bnn). */
function convertOtherOverlay(input: ConversionInput): ConversionOutcome {
  const model = parseOverlayModel(readNpz(input.npz, input.npzName), input.npzName, input.network);
  const { names, bytes: classBytes } = classNamesFor(input.classes, model.classes, input.network);
  const converted = convertOverlay(model, names);
  const files = new Map(converted.files);
  if (classBytes) files.set(CLASSES_FILE, classBytes);

  let simInput: SimulatorInput;
  let labels: Uint8Array;
  let names_: { imagesName: string; labelsName: string };
  if (OVERLAYS[input.network].input.kind === 'cifar-rgb') {
    const t = input.testSet;
    if (t.kind !== 'cifar')
      throw new InputFormatError(
        t.imagesName,
        `${input.network} reads CIFAR-10 binary records (test_batch.bin)`,
      );
    const records = readCifarRecords(t.records, t.recordsName);
    simInput = { kind: 'cifar', pixels: records.pixels };
    labels = records.labels;
    names_ = { imagesName: t.recordsName, labelsName: t.recordsName };
  } else {
    const idx = idxTestSet(input);
    simInput = { kind: 'mnist', pixels: idx.images.pixels };
    labels = idx.labels.labels;
    names_ = idx.names;
  }
  const {
    microsecondsPerImage,
    network: _network,
    decision,
    scores: _scores,
    ...board
  } = verifyOverlay(converted.params, simInput, labels, names_);
  // The CNV float model runs in JavaScript at ~30 ms of CPU per image (both graph orders); the hardware-exact
  // board accuracy above always uses every test image, the comparison only the first ones.
  const cap = simInput.kind === 'cifar' ? CNV_FLOAT_COMPARE_MAX : Number.POSITIVE_INFINITY;
  const n = Math.min(input.floatCompareImages, labels.length, cap);
  const pixelsPerImage = simInput.pixels.length / labels.length;
  const float =
    n > 0
      ? compareOverlayWithFloat(
          model,
          converted.params,
          { kind: simInput.kind, pixels: simInput.pixels.subarray(0, n * pixelsPerImage) } as SimulatorInput,
          labels.subarray(0, n),
          { maxListed: 20 },
        )
      : null;
  return {
    files,
    summary: converted.summary,
    classes: names,
    classesSource: input.classes.source,
    board: { rule: RULES[decision], ...board },
    float: float && {
      images: float.total,
      argmaxAccuracy: float.training.accuracy,
      boardRuleAccuracy: float.floatBoardRule.accuracy,
      agreementWithHardware: {
        same: float.total - float.causes.thresholdRounding,
        percent:
          float.total === 0 ? 100 : (100 * (float.total - float.causes.thresholdRounding)) / float.total,
      },
      causes: float.causes,
      disagreements: float.disagreements,
    },
    microsecondsPerImage,
  };
}
