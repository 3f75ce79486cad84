/** Bring-your-own dataset: image folder / zip → checked idx dataset, preview, upload, test export. */
export { decodeToGrey28, FITS, type Fit, ImageDecodeError } from './decode';
export { exportTestSplit } from './export-test';
export {
  CLASSES_FILE,
  checkDatasetName,
  type ImportOptions,
  type ImportResult,
  importDataset,
  PREVIEW_FILE,
  SPLIT_ORDER,
} from './import';
export { BINARIZE_AT, IMAGE_SIDE, MAX_CLASSES } from './limits';
export { DATASET_FORMAT, type DatasetManifest, IDX_FILE_NAMES, parseDatasetManifest } from './manifest';
export { INVERT_MODES, type InvertMode } from './polarity';
export { PREVIEW_PER_CLASS, PREVIEW_SCALE, previewLayout } from './preview';
export { parseSplit, type SplitPercent } from './split';
export { uploadDataset } from './upload';
