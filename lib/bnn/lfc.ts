import { must } from '../defined';
import { arraysPerLayer, OVERLAYS } from './overlays';

/**
 * The lfcW1A1 model's sizes as its npz reader (lib/bnn/model.ts) and simulator check them, named from the
 * overlay table's lfcW1A1 entry (lib/bnn/overlays.ts; BNN-PYNQ `bnn/src/network/lfcW1A1/hw/config.h`):
 * 784 -> 1024 -> 1024 -> 1024 -> up to 64 outputs. Its folding (PE x SIMD) and padded sizes: `LFC_SHAPES`
 * in lib/bnn/params.ts.
 */
const LFC = OVERLAYS.lfcW1A1;
/** Real (unpadded) fan-in of layer l. */
export const lfcFanIn = (l: number): number => must(LFC.layers[l], `lfcW1A1 layer ${l}`).fanIn;
export const LFC_INPUTS = lfcFanIn(0);
/** Neurons of each hidden layer (the next layer's fan-in). */
export const LFC_HIDDEN = lfcFanIn(1);
export const LFC_MAX_CLASSES = LFC.maxClasses;
export const LFC_LAYER_COUNT = LFC.layers.length;
/** W, b, beta, gamma, mean, inv_std: every lfcW1A1 layer has a bias. */
export const ARRAYS_PER_LAYER = arraysPerLayer(must(LFC.layers[0], 'lfcW1A1 layer 0'));
/** Pixels at or above this value are a 1 bit on the board's input. */
export const PIXEL_THRESHOLD = 128;
