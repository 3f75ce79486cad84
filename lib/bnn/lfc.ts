/**
 * The lfcW1A1 model's sizes as its npz reader checks them (BNN-PYNQ `bnn/src/network/lfcW1A1/hw/config.h`):
 * 784 -> 1024 -> 1024 -> 1024 -> up to 64 outputs. Its folding (PE x SIMD) and padded sizes are the
 * overlay table's (lib/bnn/overlays.ts; `LFC_SHAPES` in lib/bnn/params.ts).
 */
export const LFC_INPUTS = 784;
export const LFC_HIDDEN = 1024;
export const LFC_MAX_CLASSES = 64;
export const LFC_LAYER_COUNT = 4;
export const ARRAYS_PER_LAYER = 6;
/** Real (unpadded) fan-in of layer l. */
export const lfcFanIn = (l: number): number => (l === 0 ? LFC_INPUTS : LFC_HIDDEN);
/** Pixels at or above this value are a 1 bit on the board's input. */
export const PIXEL_THRESHOLD = 128;

export const CLASSES_FILE = 'classes.txt';
