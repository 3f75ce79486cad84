import { must } from '../defined';
import { InputFormatError, UserError } from '../errors';
import {
  arithmetic,
  CLASSES_FILE,
  expectedFiles,
  isOverlayName,
  layerFileSizes,
  layerOf,
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

/**
 * The one codec of the param folder's files, for every overlay of the table (docs/overlays.md §2.4):
 * neuron n of a layer lives in PE p = n mod PE at slot k = n div PE. `L-p-weights.bin` holds, per slot,
 * MW/SIMD little-endian uint64 words; lane j of a word (synapse sf·SIMD + j) takes bits [j·wb, (j+1)·wb)
 * as a wb-bit two's complement value (binary: bit 1 = +1, 0 = -1). `L-p-thres.bin` holds, per slot, the
 * neuron's thresholds (1 or 2) as adjacent little-endian int64. The scores layer has no threshold files.
 *
 * In memory the codec works on each layer's lanes packed as the files pack them, row by row
 * (`PackedLayer`), so a file word is a plain slice of a row: lfcW1A1's bit matrix (lib/bnn/params.ts)
 * is this form as it is, and the -1 / 0 / +1 view the overlay simulator takes is `unpackLanes` of it.
 */

/** One layer in the codec's form. */
export interface PackedLayer {
  /**
   * The weight lanes, neuron-major over the padded matrix: row n starts at word n · `laneRowWords`, lane
   * (column) c occupies bits [c·wb, (c+1)·wb) of the row, LSB first, in the files' wb-bit code.
   */
  lanes: Uint32Array;
  /**
   * Encoding: the stored int64 values, thresholds[n · nthr + i]. Decoding: as the hardware reads them,
   * the low 16 bits signed; the 8-bit-input layer the low 24 bits signed (units of 1/256). Empty for
   * the scores layer.
   */
  thresholds: ArrayLike<number>;
}

/** One layer as the hardware sees it, as -1 / 0 / +1 values. */
export interface OverlayLayerParams {
  /** Weight values -1 / 0 / +1, neuron-major over the padded matrix: weights[n * MW + col]. */
  weights: Int8Array;
  /** Thresholds as the hardware reads them, thresholds[n * nthr + i] (see PackedLayer). */
  thresholds: Int32Array;
}

export interface OverlayParams {
  overlay: Overlay;
  layers: OverlayLayerParams[];
  /** From classes.txt; its length is the number of output lanes used (1..64). */
  classes: string[];
}

/** A decoded param folder in the codec's form. */
interface PackedParams {
  overlay: Overlay;
  layers: Array<{ lanes: Uint32Array; thresholds: Int32Array }>;
  classes: string[];
}

/** 32-bit words per row of a layer's packed lanes (MW lanes of wb bits, rounded up to a word). */
export const laneRowWords = (o: Overlay, l: number): number =>
  Math.ceil((paddedFanIn(o, l) * layerOf(o, l).weightBits) / 32);

/** `n` (1..32) bits of a packed row starting at bit `offset`: `words[base …]` is the row. */
function bitsAt(words: Uint32Array, base: number, offset: number, n: number): number {
  const w = base + (offset >>> 5);
  const shift = offset & 31;
  if (n === 32 && shift === 0) return words[w] as number;
  let v = (words[w] as number) >>> shift;
  if (shift + n > 32) v |= (words[w + 1] as number) << (32 - shift);
  return n === 32 ? v >>> 0 : (v & ((1 << n) - 1)) >>> 0;
}

/**
 * ORs the low `n` (1..32) bits of `v` into a packed row at bit `offset` (the inverse of bitsAt on a
 * zeroed row; the bits of `v` above `n` are dropped).
 */
function putBits(words: Uint32Array, base: number, offset: number, n: number, v: number): void {
  const w = base + (offset >>> 5);
  const shift = offset & 31;
  if (n === 32 && shift === 0) {
    words[w] = v;
    return;
  }
  const bits = n === 32 ? v : v & ((1 << n) - 1);
  words[w] = (words[w] as number) | (bits << shift);
  if (shift + n > 32) words[w + 1] = (words[w + 1] as number) | (bits >>> (32 - shift));
}

/** The layer's folding, as the loops over its files need it. */
function folding(o: Overlay, l: number) {
  const layer = layerOf(o, l);
  const mw = paddedFanIn(o, l);
  const mh = paddedNeurons(o, l);
  return {
    layer,
    mw,
    mh,
    pe: layer.pe,
    tmem: mh / layer.pe,
    sf: mw / layer.simd,
    /** Bits of a file word that carry lanes: SIMD · wb (1 … 64). */
    wordBits: layer.simd * layer.weightBits,
    rowWords: laneRowWords(o, l),
    nthr: thresholdsPerNeuron(layer),
  };
}

/** Encodes every layer (packed lanes, stored int64 thresholds) and the class names into the folder's files. */
export function encodeParamFiles(
  overlay: Overlay,
  layers: readonly PackedLayer[],
  classes: readonly string[],
): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  overlay.layers.forEach((_, l) => {
    const { lanes, thresholds } = must(layers[l], `${overlay.name} layer ${l}`);
    const { pe, tmem, sf, wordBits, rowWords, nthr } = folding(overlay, l);
    const loBits = Math.min(wordBits, 32);
    for (let p = 0; p < pe; p++) {
      const w = new Uint8Array(tmem * sf * 8);
      const wv = new DataView(w.buffer);
      for (let k = 0; k < tmem; k++) {
        const row = (p + k * pe) * rowWords;
        for (let g = 0; g < sf; g++) {
          const at = (k * sf + g) * 8;
          wv.setUint32(at, bitsAt(lanes, row, g * wordBits, loBits), true);
          if (wordBits > 32) wv.setUint32(at + 4, bitsAt(lanes, row, g * wordBits + 32, wordBits - 32), true);
        }
      }
      files.set(weightFile(l, p), w);
      if (nthr === 0) continue;
      const t = new Uint8Array(tmem * nthr * 8);
      const tv = new DataView(t.buffer);
      for (let k = 0; k < tmem; k++)
        for (let i = 0; i < nthr; i++)
          tv.setBigInt64((k * nthr + i) * 8, BigInt(thresholds[(p + k * pe) * nthr + i] as number), true);
      files.set(thresholdFile(l, p), t);
    }
  });
  files.set(CLASSES_FILE, new TextEncoder().encode(classes.join('\n')));
  return files;
}

/** How a reader words a file of the wrong size (lfcW1A1's reader names the layer: lib/bnn/params.ts). */
export type SizeMismatchMessage = (got: number, expected: number, layer: number) => string;

/**
 * Reads a param folder of `network` back from its files, in the codec's form; `where` names the folder
 * in messages. Every file is checked (present, exact size; docs/overlays.md §2.5) before any is decoded.
 */
export function decodeParamFiles(
  files: ReadonlyMap<string, Uint8Array>,
  network: OverlayName,
  where: string,
  options: { sizeMismatch?: SizeMismatchMessage } = {},
): PackedParams {
  const overlay = OVERLAYS[network];
  const sizeMismatch: SizeMismatchMessage =
    options.sizeMismatch ??
    ((got, expected) =>
      `${got} bytes, expected ${expected} for ${network}: truncated or from another network (pass --network if the folder name is wrong)`);
  const fileOf = (name: string, size: number, l: number): Uint8Array => {
    const bytes = files.get(name);
    if (!bytes)
      throw new InputFormatError(
        `${where}/${name}`,
        'missing: the param folder is incomplete; convert or sync it again',
      );
    if (bytes.length !== size)
      throw new InputFormatError(`${where}/${name}`, sizeMismatch(bytes.length, size, l));
    return bytes;
  };
  const checked = overlay.layers.map((layer, l) => {
    const sizes = layerFileSizes(overlay, l);
    return Array.from({ length: layer.pe }, (_, p) => ({
      w: fileOf(weightFile(l, p), sizes.weights, l),
      t: sizes.thresholds > 0 ? fileOf(thresholdFile(l, p), sizes.thresholds, l) : undefined,
    }));
  });
  const layers = checked.map((pes, l) => {
    const { layer, mh, pe, tmem, sf, wordBits, rowWords, nthr } = folding(overlay, l);
    const lanes = new Uint32Array(mh * rowWords);
    const thresholds = new Int32Array(mh * nthr);
    const loBits = Math.min(wordBits, 32);
    // The 8-bit-input layer's ap_fixed<24,16> keeps 24 bits; every other layer's ap_int<16> 16 bits.
    const drop = arithmetic(layer) === 'fixed-point' ? 8 : 16;
    pes.forEach(({ w, t }, p) => {
      const wv = new DataView(w.buffer, w.byteOffset, w.byteLength);
      for (let k = 0; k < tmem; k++) {
        const row = (p + k * pe) * rowWords;
        if (wordBits === 64)
          // The row is the slot's uint64 words as they are (lfcW1A1 layers 0 and 2).
          for (let j = 0; j < 2 * sf; j++) lanes[row + j] = wv.getUint32((k * sf * 2 + j) * 4, true);
        else
          for (let g = 0; g < sf; g++) {
            // Bits above SIMD · wb are not lanes (the hardware never reads them): putBits drops them.
            putBits(lanes, row, g * wordBits, loBits, wv.getUint32((k * sf + g) * 8, true));
            if (wordBits > 32)
              putBits(lanes, row, g * wordBits + 32, wordBits - 32, wv.getUint32((k * sf + g) * 8 + 4, true));
          }
      }
      if (!t) return;
      const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
      for (let k = 0; k < tmem; k++)
        for (let i = 0; i < nthr; i++)
          thresholds[(p + k * pe) * nthr + i] = (tv.getUint32((k * nthr + i) * 8, true) << drop) >> drop;
    });
    return { lanes, thresholds };
  });
  const classes = classesFromFiles(files, where, network, overlay.maxClasses);
  return { overlay, layers, classes };
}

/** A weight's lane code: binary +1 → 1, -1 → 0; ternary the 2-bit two's complement (+1 = 01, 0 = 00, -1 = 11). */
export const laneCode = (weightBits: 1 | 2, value: number): number =>
  weightBits === 1 ? (value > 0 ? 1 : 0) : value & 3;

/**
 * Lanes of a layer whose every weight is its pad value (finnthesizer __padMatrix): +1 for binary weights,
 * 0 for ternary; the converter (lib/bnn/overlay-convert.ts) then clears the real lanes (clearLanes) and
 * ORs the real weights in (orLane).
 */
export function padLanes(o: Overlay, l: number): Uint32Array {
  const { layer, mw, mh, rowWords } = folding(o, l);
  const lanes = new Uint32Array(mh * rowWords);
  if (layer.weightBits === 2) return lanes;
  const tail = mw & 31;
  for (let n = 0; n < mh; n++) {
    lanes.fill(0xffffffff, n * rowWords, (n + 1) * rowWords);
    if (tail) lanes[(n + 1) * rowWords - 1] = (1 << tail) - 1;
  }
  return lanes;
}

/** Zeroes the first `count` lanes of the row starting at word `row`, so that they can be ORed in. */
export function clearLanes(lanes: Uint32Array, row: number, count: number, wb: 1 | 2): void {
  const bits = count * wb;
  lanes.fill(0, row, row + (bits >>> 5));
  if (bits & 31) {
    const w = row + (bits >>> 5);
    lanes[w] = (lanes[w] as number) & ~((1 << (bits & 31)) - 1);
  }
}

/** Packs a layer's -1 / 0 / +1 weights (neuron-major over the padded matrix) into its lanes (laneCode). */
export function packLanes(o: Overlay, l: number, weights: Int8Array): Uint32Array {
  const { layer, mw, mh, rowWords } = folding(o, l);
  const wb = layer.weightBits;
  // 1-bit lanes: 32 per word; 2-bit lanes: 16 per word (a lane never straddles two words).
  const perWord = 32 / wb;
  const lanes = new Uint32Array(mh * rowWords);
  for (let n = 0; n < mh; n++)
    for (let w = 0; w < rowWords; w++) {
      const from = n * mw + w * perWord;
      const count = Math.min(perWord, mw - w * perWord);
      let word = 0;
      for (let j = 0; j < count; j++) word |= laneCode(wb, weights[from + j] as number) << (j * wb);
      lanes[n * rowWords + w] = word;
    }
  return lanes;
}

/** The inverse of packLanes: a layer's weights as -1 / 0 / +1 (0b10 = -2 is never written; read as -2). */
export function unpackLanes(o: Overlay, l: number, lanes: Uint32Array): Int8Array {
  const { layer, mw, mh, rowWords } = folding(o, l);
  const weights = new Int8Array(mh * mw);
  if (layer.weightBits === 1) {
    for (let n = 0; n < mh; n++) {
      const row = n * rowWords;
      const to = n * mw;
      for (let c = 0; c < mw; c++)
        weights[to + c] = ((lanes[row + (c >>> 5)] as number) >>> (c & 31)) & 1 ? 1 : -1;
    }
    return weights;
  }
  for (let n = 0; n < mh; n++) {
    const row = n * rowWords;
    const to = n * mw;
    for (let c = 0; c < mw; c++) {
      const code = ((lanes[row + (c >>> 4)] as number) >>> ((c & 15) * 2)) & 3;
      weights[to + c] = code >= 2 ? code - 4 : code;
    }
  }
  return weights;
}

/** Reads a param folder of `network` back as -1 / 0 / +1 weights; `where` names the folder in messages. */
export function decodeOverlayFiles(
  files: ReadonlyMap<string, Uint8Array>,
  network: OverlayName,
  where: string,
): OverlayParams {
  const { overlay, layers, classes } = decodeParamFiles(files, network, where);
  return {
    overlay,
    layers: layers.map(({ lanes, thresholds }, l) => ({
      weights: unpackLanes(overlay, l, lanes),
      thresholds,
    })),
    classes,
  };
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
  const [match, ...others] = matches;
  if (match !== undefined && others.length === 0) return match;
  throw new UserError(
    `${folderName}: the folder is not named after an overlay and its ${bins.length} .bin files match no overlay's sizes exactly; pass --network (${OVERLAY_NAMES.join(', ')})`,
  );
}

/** Class names of a classes.txt (LF or CRLF lines; a final newline and trailing empty lines are ignored). */
export function parseClassNames(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  return lines;
}

/** The class names of a param folder's classes.txt: 1 to `maxClasses` of them, else one clear error. */
function classesFromFiles(
  files: ReadonlyMap<string, Uint8Array>,
  where: string,
  network: string,
  maxClasses: number,
): string[] {
  const classBytes = files.get(CLASSES_FILE);
  if (!classBytes)
    throw new InputFormatError(
      `${where}/${CLASSES_FILE}`,
      'missing: the param folder needs one class name per line',
    );
  const classes = parseClassNames(new TextDecoder().decode(classBytes));
  if (classes.length === 0)
    throw new InputFormatError(`${where}/${CLASSES_FILE}`, 'no class names: write one name per line');
  if (classes.length > maxClasses)
    throw new InputFormatError(
      `${where}/${CLASSES_FILE}`,
      `${classes.length} class names, but the ${network} overlay has only ${maxClasses} outputs`,
    );
  return classes;
}
