/**
 * What an imported dataset must satisfy. The LFC overlay takes 28×28 one-channel images binarized at
 * pixel >= 128 and at most 64 classes (docs/overlays.md §3.1, §1); nothing else can change without Vivado.
 */

export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;
/** The board's input rule: a pixel is 1 when it is >= 128. */
export const BINARIZE_AT = 128;
/** Output width of the LFC overlay's last layer. */
export const MAX_CLASSES = 64;
export const MIN_CLASSES = 2;

/** Image file extensions we read (lower case, with the dot). Anything else in a class folder is ignored and counted. */
export const IMAGE_EXTENSIONS = [
  '.png',
  '.jpg',
  '.jpeg',
  '.jpe',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.bmp',
  '.dib',
] as const;

/** Files tools leave next to images: never images, never worth a warning. */
export const JUNK_NAMES = new Set(['thumbs.db', 'desktop.ini', '.ds_store']);
export const JUNK_DIRS = new Set(['__macosx']);

export const isImageName = (name: string): boolean => {
  const dot = name.lastIndexOf('.');
  return dot > 0 && (IMAGE_EXTENSIONS as readonly string[]).includes(name.slice(dot).toLowerCase());
};

/**
 * The CNV overlays take 32×32 RGB images as CIFAR-10 binary records (docs/overlays.md §3.1): 3,072
 * bytes per image, planar (1,024 R, then G, then B, each row-major), 8 bits per channel, not binarized.
 */
export const RGB_SIDE = 32;
export const RGB_IMAGE_BYTES = 3 * RGB_SIDE * RGB_SIDE;
/** Training records per data_batch_<n>.bin file, as in the official CIFAR-10 archive. */
export const RECORDS_PER_BATCH_FILE = 10_000;
