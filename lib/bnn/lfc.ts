import type { LayerShape } from './types';

/**
 * The lfcW1A1 overlay's fixed geometry (BNN-PYNQ `bnn/src/network/lfcW1A1/hw/config.h`):
 * 784 -> 1024 -> 1024 -> 1024 -> up to 64 outputs, each layer folded onto PE x SIMD.
 */
export const LFC_INPUTS = 784;
export const LFC_HIDDEN = 1024;
export const LFC_MAX_CLASSES = 64;
export const LFC_LAYER_COUNT = 4;
export const ARRAYS_PER_LAYER = 6;
export const LFC_SHAPES: readonly LayerShape[] = [
  { simd: 64, pe: 32, mw: 832, mh: 1024 },
  { simd: 32, pe: 64, mw: 1024, mh: 1024 },
  { simd: 64, pe: 32, mw: 1024, mh: 1024 },
  { simd: 8, pe: 16, mw: 1024, mh: 64 },
];
/** Real (unpadded) fan-in of layer l. */
export const lfcFanIn = (l: number): number => (l === 0 ? LFC_INPUTS : LFC_HIDDEN);
/** Threshold of padding neurons before saturation (finnthesizer uses 2^16 - 1; it saturates to 32767). */
export const PAD_THRESHOLD = 2 ** 16 - 1;
export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
/** Pixels at or above this value are a 1 bit on the board's input. */
export const PIXEL_THRESHOLD = 128;

export const weightFileName = (layer: number, pe: number): string => `${layer}-${pe}-weights.bin`;
export const thresholdFileName = (layer: number, pe: number): string => `${layer}-${pe}-thres.bin`;
export const CLASSES_FILE = 'classes.txt';
