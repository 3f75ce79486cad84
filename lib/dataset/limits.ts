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
