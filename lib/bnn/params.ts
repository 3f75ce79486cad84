import { must } from '../defined';
import { decodeParamFiles, encodeParamFiles } from './overlay-params';
import { OVERLAYS, paddedFanIn, paddedNeurons } from './overlays';
import type { LayerParams, LayerShape, LfcParams } from './types';

/**
 * lfcW1A1's param folder as the LFC convert result (lib/bnn/convert.ts), simulator (lib/bnn/simulate.ts) and
 * calibration use it: `LfcParams`, one bit matrix and int16 thresholds per layer. It is the overlay
 * codec's form (lib/bnn/overlay-params.ts) of the table's lfcW1A1 entry, with binary lanes: the files
 * are written and read by that codec alone.
 */

const LFC = OVERLAYS.lfcW1A1;

/** The lfcW1A1 layers' folding and padded sizes, from the overlay table. */
export const LFC_SHAPES: readonly LayerShape[] = LFC.layers.map((layer, l) => ({
  simd: layer.simd,
  pe: layer.pe,
  mw: paddedFanIn(LFC, l),
  mh: paddedNeurons(LFC, l),
}));

/** The 288 .bin files and classes.txt of a param folder. */
export function encodeParams(params: LfcParams): Map<string, Uint8Array> {
  return encodeParamFiles(
    LFC,
    params.layers.map((l) => ({ lanes: l.bits, thresholds: l.thresholds })),
    params.classes,
  );
}

/**
 * Reads a param folder back from its files (the inverse of encodeParams). `where` names the folder in
 * messages. Thresholds are read as the hardware reads them: the low 16 bits, signed.
 */
export function paramsFromFiles(files: ReadonlyMap<string, Uint8Array>, where: string): LfcParams {
  const { layers, classes } = decodeParamFiles(files, 'lfcW1A1', where, {
    // lfcW1A1's own reader names the layer (its messages predate the other overlays).
    sizeMismatch: (got, expected, l) =>
      `${got} bytes, expected ${expected} for lfcW1A1 layer ${l}: truncated or from another network`,
  });
  return {
    network: 'lfcW1A1',
    layers: layers.map(
      ({ lanes, thresholds }, l): LayerParams => ({
        ...must(LFC_SHAPES[l], `lfcW1A1 layer ${l}`),
        bits: lanes,
        // Read as 16-bit values already: the copy is exact.
        thresholds: new Int16Array(thresholds),
      }),
    ),
    classes,
  };
}
