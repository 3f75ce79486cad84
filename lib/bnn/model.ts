import { must } from '../defined';
import { InputFormatError } from '../errors';
import { ARRAYS_PER_LAYER, LFC_HIDDEN, LFC_INPUTS, LFC_LAYER_COUNT, LFC_MAX_CLASSES, lfcFanIn } from './lfc';
import { readNpz } from './npz';
import { checkValues } from './overlay-model';
import type { DenseLayer, LfcModel, NdArray } from './types';

const PARAM_NAMES = ['W', 'b', 'beta', 'gamma', 'mean', 'inv_std'] as const;
const EXPECTED_ARRAYS = LFC_LAYER_COUNT * ARRAYS_PER_LAYER;

/**
 * Checks that the arrays of an npz are an lfcW1A1 model in the training script's layout
 * (`arr_0..arr_23`, 6 per dense layer: W, b, beta, gamma, mean, inv_std) and returns it.
 * Every problem names the file and the array.
 */
export function parseLfcModel(arrays: ReadonlyMap<string, NdArray>, fileName: string): LfcModel {
  const at = (k: number, what: string) => `${fileName}: arr_${k} (layer ${Math.floor(k / 6)} ${what})`;
  for (const name of arrays.keys())
    if (!/^arr_(0|[1-9]\d*)$/.test(name))
      throw new InputFormatError(
        fileName,
        `unexpected array '${name}': expected arr_0 .. arr_${EXPECTED_ARRAYS - 1}`,
      );
  for (const a of arrays.values())
    if (a.shape.length === 4)
      throw new InputFormatError(
        `${fileName}: ${a.name}`,
        `4-D weights (${a.shape.join(' x ')}) belong to a convolutional (CNV) model; only lfcW1A1 (dense) is supported`,
      );
  const count = arrays.size;
  for (let k = 0; k < Math.max(count, EXPECTED_ARRAYS); k++)
    if (!arrays.has(`arr_${k}`)) {
      if (k < EXPECTED_ARRAYS && count <= EXPECTED_ARRAYS)
        throw new InputFormatError(
          fileName,
          count % ARRAYS_PER_LAYER === 0 && count < EXPECTED_ARRAYS
            ? `${count / ARRAYS_PER_LAYER} layers (${count} arrays); lfcW1A1 has ${LFC_LAYER_COUNT} dense layers (${EXPECTED_ARRAYS} arrays)`
            : `missing array arr_${k} (lfcW1A1 needs arr_0 .. arr_${EXPECTED_ARRAYS - 1})`,
        );
      break;
    }
  if (count > EXPECTED_ARRAYS)
    throw new InputFormatError(
      fileName,
      `${count} arrays (${count % ARRAYS_PER_LAYER === 0 ? `${count / ARRAYS_PER_LAYER} layers` : 'not a multiple of 6'}); lfcW1A1 has ${LFC_LAYER_COUNT} dense layers (${EXPECTED_ARRAYS} arrays)`,
    );

  // Every arr_k is there: checked above.
  const get = (k: number): NdArray => must(arrays.get(`arr_${k}`), `arr_${k}`);
  const lastW = get(ARRAYS_PER_LAYER * (LFC_LAYER_COUNT - 1));
  if (lastW.shape.length !== 2)
    throw new InputFormatError(at(18, 'W'), `shape (${lastW.shape.join(', ')}): expected (1024, classes)`);
  const classes = must(lastW.shape[1], "the last W's second dimension");
  if (classes < 1 || classes > LFC_MAX_CLASSES)
    throw new InputFormatError(
      at(18, 'W'),
      `${classes} outputs: the lfcW1A1 overlay has 1 .. ${LFC_MAX_CLASSES} outputs`,
    );

  const layers: DenseLayer[] = [];
  for (let l = 0; l < LFC_LAYER_COUNT; l++) {
    const fanIn = lfcFanIn(l);
    const fanOut = l === LFC_LAYER_COUNT - 1 ? classes : LFC_HIDDEN;
    const vectors: Float64Array[] = [];
    for (const [j, what] of PARAM_NAMES.entries()) {
      const k = l * ARRAYS_PER_LAYER + j;
      const a = get(k);
      const want = j === 0 ? [fanIn, fanOut] : [fanOut];
      if (a.shape.length !== want.length || a.shape.some((d, i) => d !== want[i]))
        throw new InputFormatError(
          at(k, what),
          `shape (${a.shape.join(', ')}${a.shape.length === 1 ? ',' : ''}), expected (${want.join(', ')}${want.length === 1 ? ',' : ''}) for lfcW1A1 (${LFC_INPUTS}-${LFC_HIDDEN}-${LFC_HIDDEN}-${LFC_HIDDEN}-${classes})`,
        );
      const d = a.data;
      checkValues(d, what, at(k, what), {
        position: (i) => (j === 0 ? `[${Math.floor(i / fanOut)}, ${i % fanOut}]` : `[${i}]`),
      });
      vectors.push(d);
    }
    const [W, b, beta, gamma, mean, invStd] = vectors as [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    layers.push({ fanIn, fanOut, W, b, beta, gamma, mean, invStd });
  }
  return { network: 'lfcW1A1', source: fileName, layers, classes };
}

/** Reads and validates an lfcW1A1 model from the bytes of its `.npz`. */
export function loadLfcModel(bytes: Uint8Array, fileName: string): LfcModel {
  return parseLfcModel(readNpz(bytes, fileName), fileName);
}
