import { InputFormatError } from '../errors';
import {
  CLASSES_FILE,
  LFC_LAYER_COUNT,
  LFC_MAX_CLASSES,
  LFC_SHAPES,
  thresholdFileName,
  weightFileName,
} from './lfc';
import type { LayerParams, LfcParams } from './types';

/**
 * The param folder's byte layout (docs/overlays.md §2.4): neuron n of a layer lives in
 * PE p = n mod PE at slot k = n div PE. `L-p-weights.bin` holds, per slot, MW/SIMD little-endian uint64
 * words of SIMD weight bits each; `L-p-thres.bin` one little-endian int64 threshold per slot.
 */

/** SIMD bits of a neuron's row starting at bit `offset` (SIMD is 8, 32 or 64; offset a multiple of SIMD). */
function writeGroup(
  out: DataView,
  at: number,
  bits: Uint32Array,
  rowWord: number,
  offset: number,
  simd: number,
): void {
  const word = rowWord + (offset >>> 5);
  if (simd === 64) {
    out.setUint32(at, bits[word] as number, true);
    out.setUint32(at + 4, bits[word + 1] as number, true);
  } else {
    const v =
      simd === 32 ? (bits[word] as number) : ((bits[word] as number) >>> (offset & 31)) & ((1 << simd) - 1);
    out.setUint32(at, v >>> 0, true);
    out.setUint32(at + 4, 0, true);
  }
}

function readGroup(
  view: DataView,
  at: number,
  bits: Uint32Array,
  rowWord: number,
  offset: number,
  simd: number,
) {
  const word = rowWord + (offset >>> 5);
  if (simd === 64) {
    bits[word] = view.getUint32(at, true);
    bits[word + 1] = view.getUint32(at + 4, true);
  } else if (simd === 32) {
    bits[word] = view.getUint32(at, true);
  } else {
    const v = view.getUint32(at, true) & ((1 << simd) - 1);
    bits[word] = ((bits[word] as number) | (v << (offset & 31))) >>> 0;
  }
}

/** The 288 .bin files and classes.txt of a param folder. */
export function encodeParams(params: LfcParams): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  params.layers.forEach((layer, l) => {
    const { simd, pe, mw, mh, bits, thresholds } = layer;
    const tmem = mh / pe;
    const groups = mw / simd;
    const wordsPerRow = mw / 32;
    for (let p = 0; p < pe; p++) {
      const w = new Uint8Array(tmem * groups * 8);
      const wv = new DataView(w.buffer);
      const t = new Uint8Array(tmem * 8);
      const tv = new DataView(t.buffer);
      for (let k = 0; k < tmem; k++) {
        const n = p + k * pe;
        for (let g = 0; g < groups; g++)
          writeGroup(wv, (k * groups + g) * 8, bits, n * wordsPerRow, g * simd, simd);
        tv.setBigInt64(k * 8, BigInt(thresholds[n] as number), true);
      }
      files.set(weightFileName(l, p), w);
      files.set(thresholdFileName(l, p), t);
    }
  });
  files.set(CLASSES_FILE, new TextEncoder().encode(params.classes.join('\n')));
  return files;
}

/** Class names of a classes.txt (LF or CRLF lines; a final newline and trailing empty lines are ignored). */
export function parseClassNames(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  return lines;
}

/**
 * Reads a param folder back from its files (the inverse of encodeParams). `where` names the folder in
 * messages. Thresholds are read as the hardware reads them: the low 16 bits, signed.
 */
export function paramsFromFiles(files: ReadonlyMap<string, Uint8Array>, where: string): LfcParams {
  const layers: LayerParams[] = [];
  for (let l = 0; l < LFC_LAYER_COUNT; l++) {
    const shape = LFC_SHAPES[l] as (typeof LFC_SHAPES)[number];
    const { simd, pe, mw, mh } = shape;
    const tmem = mh / pe;
    const groups = mw / simd;
    const wordsPerRow = mw / 32;
    const bits = new Uint32Array(mh * wordsPerRow);
    const thresholds = new Int16Array(mh);
    for (let p = 0; p < pe; p++) {
      const wName = weightFileName(l, p);
      const tName = thresholdFileName(l, p);
      const w = files.get(wName);
      const t = files.get(tName);
      for (const [name, bytes, size] of [
        [wName, w, tmem * groups * 8],
        [tName, t, tmem * 8],
      ] as const) {
        if (!bytes)
          throw new InputFormatError(
            `${where}/${name}`,
            'missing: the param folder is incomplete; convert or sync it again',
          );
        if (bytes.length !== size)
          throw new InputFormatError(
            `${where}/${name}`,
            `${bytes.length} bytes, expected ${size} for lfcW1A1 layer ${l}: truncated or from another network`,
          );
      }
      const wv = new DataView(
        (w as Uint8Array).buffer,
        (w as Uint8Array).byteOffset,
        (w as Uint8Array).byteLength,
      );
      const tv = new DataView(
        (t as Uint8Array).buffer,
        (t as Uint8Array).byteOffset,
        (t as Uint8Array).byteLength,
      );
      for (let k = 0; k < tmem; k++) {
        const n = p + k * pe;
        for (let g = 0; g < groups; g++)
          readGroup(wv, (k * groups + g) * 8, bits, n * wordsPerRow, g * simd, simd);
        thresholds[n] = tv.getInt16(k * 8, true); // low 16 bits of the little-endian int64
      }
    }
    layers.push({ ...shape, bits, thresholds });
  }
  const classes = classesFromFiles(files, where, 'lfcW1A1', LFC_MAX_CLASSES);
  return { network: 'lfcW1A1', layers, classes };
}

/** The class names of a param folder's classes.txt: 1 to `maxClasses` of them, else one clear error. */
export function classesFromFiles(
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
