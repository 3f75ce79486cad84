import { convertOverlay } from './overlay-convert';
import { OVERLAYS } from './overlays';
import { paramsFromFiles } from './params';
import type { ConvertResult, LfcModel } from './types';

/**
 * Converts a validated lfcW1A1 model into the param folder's files (names relative to the lfcW1A1 folder):
 * the overlay table's converter on its lfcW1A1 entry (lib/bnn/overlay-convert.ts; the rules are in
 * docs/overlays.md §2: for lfcW1A1, bit = s·W >= 0 and T = trunc((fan_in + s·thr) / 2), int16), with the
 * result in lfcW1A1's own form: `LfcParams` and the LFC summary.
 */
export function convertLfc(model: LfcModel, classes: readonly string[]): ConvertResult {
  const { files, summary } = convertOverlay(
    { overlay: OVERLAYS.lfcW1A1, source: model.source, layers: model.layers, classes: model.classes },
    classes,
  );
  return {
    files,
    params: paramsFromFiles(files, '(converted)'),
    summary: {
      network: 'lfcW1A1',
      classes: summary.classes,
      layers: summary.layers.map((l) => ({
        layer: l.layer,
        fanIn: l.fanIn,
        fanOut: l.fanOut,
        paddedFanIn: l.paddedFanIn,
        paddedNeurons: l.paddedNeurons,
        simd: l.simd,
        pe: l.pe,
        flipped: l.flipped,
        saturated: l.saturated,
      })),
      fileCount: summary.fileCount,
    },
  };
}
