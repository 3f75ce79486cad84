/**
 * Public API of the BNN toolkit: pure functions on bytes and typed arrays (no AWS, no file system: param
 * folders are read and written by lib/param-folder). The CLI's convert/verify commands and the conversion
 * Lambda are thin shells around these.
 */

export { type CalibrationResult, calibrateLastLayer, checkNotTestSet } from './calibrate';
export { CIFAR_RECORD, type CifarRecords, hostInputByte, readCifarRecords, writeCifarRecords } from './cifar';
export { convertLfc } from './convert';
export { firstMaxScore, highestSetBit, maxPositiveScore } from './decision';
export { compareWithFloatModel, floatForward } from './float-model';
export {
  type IdxImages,
  type IdxLabels,
  readIdxImages,
  readIdxLabels,
  sliceImages,
  sliceLabels,
  writeIdxImages,
  writeIdxLabels,
} from './idx';
export { LFC_MAX_CLASSES } from './lfc';
export { loadLfcModel, parseLfcModel } from './model';
export { readNpy } from './npy';
export { readNpz } from './npz';
export { convertOverlay, type OverlayConvertResult, type OverlayConvertSummary } from './overlay-convert';
export {
  compareOverlayWithFloat,
  createFloatModel,
  type GraphOrder,
  type OverlayFloatComparison,
} from './overlay-float';
export {
  inferNetwork,
  loadOverlayModel,
  type OverlayModel,
  parseOverlayModel,
} from './overlay-model';
export {
  decodeOverlayFiles,
  decodeParamFiles,
  detectNetwork,
  encodeParamFiles,
  type OverlayLayerParams,
  type OverlayParams,
  type PackedLayer,
  packLanes,
  parseClassNames,
  unpackLanes,
} from './overlay-params';
export { createOverlaySimulator, type OverlaySimulator, type SimulatorInput } from './overlay-simulate';
export { type OverlayVerifyOptions, type OverlayVerifyReport, verifyOverlay } from './overlay-verify';
export {
  accuOffset,
  arithmetic,
  CLASSES_FILE,
  expectedFiles,
  isOverlayName,
  MAX_CLASSES,
  maxClassesOf,
  OVERLAY_NAMES,
  OVERLAYS,
  type Overlay,
  type OverlayLayer,
  type OverlayName,
  paddedFanIn,
  paddedNeurons,
  thresholdRule,
  thresholdsPerNeuron,
} from './overlays';
export { PARALLEL_MIN_IMAGES, type ParallelRun, runParallel, workersFor } from './parallel';
export { encodeParams, LFC_SHAPES, paramsFromFiles } from './params';
export { CLASS_PRESETS, KNOWN_IDX_FILES, VALIDATION_SPLIT } from './presets';
export { boardClass, classify, createSimulator, popcount32, type Simulator } from './simulate';
export type {
  ConvertResult,
  ConvertSummary,
  DenseLayer,
  Disagreement,
  FloatComparison,
  LayerParams,
  LayerShape,
  LfcModel,
  LfcParams,
  NdArray,
  NpyDtype,
  TrainedLayer,
  VerifyReport,
} from './types';
export { type VerifyOptions, verify } from './verify';
