import { InputFormatError, UserError } from '../errors';
import {
  arithmetic,
  CLASSES_TXT,
  expectedFiles,
  isOverlayName,
  OVERLAY_NAMES,
  OVERLAYS,
  type Overlay,
  type OverlayName,
  paddedFanIn,
  paddedNeurons,
  thresholdFile,
  thresholdsPerNeuron,
  weightFile,
} from './overlays';
import { classesFromFiles } from './params';

/**
 * The param folder's byte layout for every overlay (docs/overlays.md §2.4): neuron n of a layer lives in
 * PE p = n mod PE at slot k = n div PE. `L-p-weights.bin` holds, per slot, MW/SIMD little-endian uint64
 * words; lane j of a word (synapse sf·SIMD + j) takes bits [j·wb, (j+1)·wb) as a wb-bit two's
 * complement value (binary: bit 1 = +1, 0 = -1). `L-p-thres.bin` holds, per slot, the neuron's
 * thresholds (1 or 2) as adjacent little-endian int64. The scores layer has no threshold files.
 */

/** One layer as the hardware sees it. */
export interface OverlayLayerParams {
  /** Weight values -1 / 0 / +1, neuron-major over the padded matrix: weights[n * MW + col]. */
  weights: Int8Array;
  /**
   * Thresholds as the hardware reads them, thresholds[n * nthr + i]: the low 16 bits, signed; the
   * 8-bit-input layer the low 24 bits, signed (units of 1/256). Empty for the scores layer.
   */
  thresholds: Int32Array;
}

export interface OverlayParams {
  overlay: Overlay;
  layers: OverlayLayerParams[];
  /** From classes.txt; its length is the number of output lanes used (1..64). */
  classes: string[];
}

/** Encodes converted layers (weights, stored int64 thresholds) and class names into the folder's files. */
export function encodeOverlayFiles(
  overlay: Overlay,
  layers: ReadonlyArray<{ weights: Int8Array; stored: Float64Array }>,
  classes: readonly string[],
): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  overlay.layers.forEach((layer, l) => {
    const { weights, stored } = layers[l] as { weights: Int8Array; stored: Float64Array };
    const mw = paddedFanIn(overlay, l);
    const mh = paddedNeurons(overlay, l);
    const { simd, pe, weightBits: wb } = layer;
    const tmem = mh / pe;
    const sf = mw / simd;
    const nthr = thresholdsPerNeuron(layer);
    const laneMask = (1 << wb) - 1;
    for (let p = 0; p < pe; p++) {
      const w = new Uint8Array(tmem * sf * 8);
      const wv = new DataView(w.buffer);
      for (let k = 0; k < tmem; k++) {
        const row = (p + k * pe) * mw;
        for (let g = 0; g < sf; g++) {
          let lo = 0;
          let hi = 0;
          for (let j = 0; j < simd; j++) {
            const v = weights[row + g * simd + j] as number;
            const code = wb === 1 ? (v > 0 ? 1 : 0) : v & laneMask;
            const bit = j * wb;
            if (bit < 32) lo |= code << bit;
            else hi |= code << (bit - 32);
          }
          wv.setUint32((k * sf + g) * 8, lo >>> 0, true);
          wv.setUint32((k * sf + g) * 8 + 4, hi >>> 0, true);
        }
      }
      files.set(weightFile(l, p), w);
      if (nthr === 0) continue;
      const t = new Uint8Array(tmem * nthr * 8);
      const tv = new DataView(t.buffer);
      for (let k = 0; k < tmem; k++)
        for (let i = 0; i < nthr; i++)
          tv.setBigInt64((k * nthr + i) * 8, BigInt(stored[(p + k * pe) * nthr + i] as number), true);
      files.set(thresholdFile(l, p), t);
    }
  });
  files.set(CLASSES_TXT, new TextEncoder().encode(classes.join('\n')));
  return files;
}

/**
 * The overlay a folder holds: its own name if it is one (`…/<dataset>/<network>/`), else the only overlay
 * whose file names and sizes the .bin files match exactly (lfcW1A1 and lfcW1A2 differ in threshold-file
 * sizes, cnvW1A1 and cnvW1A2 too, cnvW2A2 in file count).
 */
export function detectNetwork(files: ReadonlyMap<string, Uint8Array>, folderName: string): OverlayName {
  if (isOverlayName(folderName)) return folderName;
  const bins = [...files.keys()].filter((n) => n.endsWith('.bin'));
  const matches = OVERLAY_NAMES.filter((name) => {
    const want = expectedFiles(OVERLAYS[name]);
    return bins.length === want.size && bins.every((b) => want.get(b) === files.get(b)?.length);
  });
  if (matches.length === 1) return matches[0] as OverlayName;
  throw new UserError(
    `${folderName}: the folder is not named after an overlay and its ${bins.length} .bin files match no overlay's sizes exactly; pass --network (${OVERLAY_NAMES.join(', ')})`,
  );
}

/** Reads a param folder of `network` back from its files; `where` names the folder in messages. */
export function decodeOverlayFiles(
  files: ReadonlyMap<string, Uint8Array>,
  network: OverlayName,
  where: string,
): OverlayParams {
  const overlay = OVERLAYS[network];
  const sizes = expectedFiles(overlay);
  for (const [name, size] of sizes) {
    const bytes = files.get(name);
    if (!bytes)
      throw new InputFormatError(
        `${where}/${name}`,
        'missing: the param folder is incomplete; convert or sync it again',
      );
    if (bytes.length !== size)
      throw new InputFormatError(
        `${where}/${name}`,
        `${bytes.length} bytes, expected ${size} for ${network}: truncated or from another network (pass --network if the folder name is wrong)`,
      );
  }
  const layers = overlay.layers.map((layer, l): OverlayLayerParams => {
    const mw = paddedFanIn(overlay, l);
    const mh = paddedNeurons(overlay, l);
    const { simd, pe, weightBits: wb } = layer;
    const tmem = mh / pe;
    const sf = mw / simd;
    const nthr = thresholdsPerNeuron(layer);
    const weights = new Int8Array(mh * mw);
    const thresholds = new Int32Array(mh * nthr);
    const fixed = arithmetic(layer) === 'fixed-point';
    for (let p = 0; p < pe; p++) {
      const w = files.get(weightFile(l, p)) as Uint8Array;
      const wv = new DataView(w.buffer, w.byteOffset, w.byteLength);
      for (let k = 0; k < tmem; k++) {
        const row = (p + k * pe) * mw;
        for (let g = 0; g < sf; g++) {
          const lo = wv.getUint32((k * sf + g) * 8, true);
          const hi = wv.getUint32((k * sf + g) * 8 + 4, true);
          for (let j = 0; j < simd; j++) {
            const bit = j * wb;
            const word = bit < 32 ? lo : hi;
            const code = (word >>> (bit & 31)) & ((1 << wb) - 1);
            // Binary: 1 = +1, 0 = -1. Ternary: 2-bit two's complement (0b10 = -2 is never written).
            weights[row + g * simd + j] = wb === 1 ? (code ? 1 : -1) : code >= 2 ? code - 4 : code;
          }
        }
      }
      if (nthr === 0) continue;
      const t = files.get(thresholdFile(l, p)) as Uint8Array;
      const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let k = 0; k < tmem; k++)
        for (let i = 0; i < nthr; i++) {
          const low = tv.getUint32((k * nthr + i) * 8, true);
          // The 8-bit-input layer's ap_fixed<24,16> keeps 24 bits; every other layer's ap_int<16> 16 bits.
          thresholds[(p + k * pe) * nthr + i] = fixed ? (low << 8) >> 8 : (low << 16) >> 16;
        }
    }
    return { weights, thresholds };
  });
  const classes = classesFromFiles(files, where, network, overlay.maxClasses);
  return { overlay, layers, classes };
}
