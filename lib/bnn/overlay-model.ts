import { must } from '../defined';
import { InputFormatError, UserError } from '../errors';
import { readNpz } from './npz';
import {
  arraysPerLayer,
  isOverlayName,
  npzArrayCount,
  OVERLAY_NAMES,
  OVERLAYS,
  type Overlay,
  type OverlayName,
  realNeurons,
} from './overlays';
import type { NdArray, TrainedLayer } from './types';

/** A validated model of any overlay, in the training script's npz layout. */
export interface OverlayModel {
  overlay: Overlay;
  source: string;
  layers: TrainedLayer[];
  classes: number;
}

const NAMES_WITH_BIAS = ['W', 'b', 'beta', 'gamma', 'mean', 'inv_std'] as const;
const NAMES_NO_BIAS = ['W', 'beta', 'gamma', 'mean', 'inv_std'] as const;

const tuple = (s: readonly number[]) => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;

/**
 * The value checks of one array of a trained layer (lfcW1A1's reader, lib/bnn/model.ts, and every
 * overlay's): no NaN/Inf, gamma != 0, inv_std > 0 and, for 2-bit weights, latent weights in [-1.5, 1.5).
 * `what` is the array's name (W, b, beta, gamma, mean, inv_std), `where` names it in messages and
 * `position` words a value's index.
 */
export function checkValues(
  d: Float64Array,
  what: string,
  where: string,
  options: { position: (i: number) => string; ternaryWeights?: boolean },
): void {
  const ternary = options.ternaryWeights ?? false;
  for (let i = 0; i < d.length; i++) {
    const v = must(d[i], "the array's values");
    if (!Number.isFinite(v))
      throw new InputFormatError(
        where,
        `${v} at ${options.position(i)}: the model diverged or the file is corrupt`,
      );
    if (what === 'gamma' && v === 0)
      throw new InputFormatError(
        where,
        `gamma == 0 at [${i}]: the neuron's sign (and threshold) is undefined`,
      );
    if (what === 'inv_std' && v <= 0)
      throw new InputFormatError(
        where,
        `inv_std <= 0 (${v}) at [${i}]: it is 1/sqrt(var + eps) and must be > 0`,
      );
    if (ternary && (v >= 1.5 || v < -1.5))
      throw new InputFormatError(
        where,
        `weight ${v} at ${options.position(i)}: a 2-bit (ternary) weight must round to -1, 0 or +1 (training clips them to [-1, 1])`,
      );
  }
}

/**
 * The overlay a model's arrays can only belong to, or an error saying which `--network` values fit.
 * 24 arrays of 2-D weights are an LFC (lfcW1A1 unless told otherwise, as before: the npz does not record
 * the activation bits); 53 arrays with 4-D weights are a CNV, whose weight and activation bits the npz
 * does not record either, so `--network` is required.
 */
export function inferNetwork(arrays: ReadonlyMap<string, NdArray>, fileName: string): OverlayName {
  const first = arrays.get('arr_0');
  if (first?.shape.length === 4)
    throw new InputFormatError(
      `${fileName}: arr_0`,
      `4-D weights (${first.shape.join(' x ')}) belong to a convolutional (CNV) model; the npz does not record its weight and activation bits: pass --network cnvW1A1, cnvW1A2 or cnvW2A2`,
    );
  return 'lfcW1A1';
}

/**
 * Checks that the arrays of an npz are a model of `overlay` in the training script's layout
 * (arr_0 .. arr_N, per layer W, [b], beta, gamma, mean, inv_std) and returns it. Every problem names the
 * file, the array and the layer: shapes, NaN/Inf, gamma == 0, inv_std <= 0, class count 1..64, and
 * ternary latent weights outside the 2-bit range.
 */
export function parseOverlayModel(
  arrays: ReadonlyMap<string, NdArray>,
  fileName: string,
  network: OverlayName,
): OverlayModel {
  const overlay = OVERLAYS[network];
  const expected = npzArrayCount(overlay);
  for (const name of arrays.keys())
    if (!/^arr_(0|[1-9]\d*)$/.test(name))
      throw new InputFormatError(
        fileName,
        `unexpected array '${name}': expected arr_0 .. arr_${expected - 1}`,
      );
  const first = arrays.get('arr_0');
  const wantConv = overlay.family === 'cnv';
  if (first && (first.shape.length === 4) !== wantConv)
    throw new InputFormatError(
      `${fileName}: arr_0`,
      `${first.shape.length}-D weights ${tuple(first.shape)}: ${first.shape.length === 4 ? 'a convolutional (CNV) model' : 'a dense (LFC) model'}, not ${network}; pass the matching --network`,
    );
  for (let k = 0; k < expected; k++)
    if (!arrays.has(`arr_${k}`))
      throw new InputFormatError(
        fileName,
        `${arrays.size} arrays, missing arr_${k}: ${network} has ${overlay.layers.length} layers (${expected} arrays arr_0 .. arr_${expected - 1})`,
      );
  if (arrays.size > expected)
    throw new InputFormatError(
      fileName,
      `${arrays.size} arrays; ${network} has ${overlay.layers.length} layers (${expected} arrays arr_0 .. arr_${expected - 1})`,
    );

  // Every arr_k is there: checked above.
  const get = (k: number): NdArray => must(arrays.get(`arr_${k}`), `arr_${k}`);
  // The class count is the last layer's fan-out (its W is (512 or 1024, C)).
  const last = must(overlay.layers.at(-1), `${network}'s last layer`);
  const lastIndex = expected - arraysPerLayer(last);
  const lastW = get(lastIndex);
  const lastLayer = overlay.layers.length - 1;
  if (lastW.shape.length !== 2)
    throw new InputFormatError(
      `${fileName}: arr_${lastIndex} (layer ${lastLayer} W)`,
      `shape ${tuple(lastW.shape)}: expected (${last.fanIn}, classes)`,
    );
  const classes = must(lastW.shape[1], "the last W's second dimension");
  if (classes < 1 || classes > overlay.maxClasses)
    throw new InputFormatError(
      `${fileName}: arr_${lastIndex} (layer ${lastLayer} W)`,
      `${classes} outputs: the ${network} overlay has 1 .. ${overlay.maxClasses} outputs`,
    );

  const layers: TrainedLayer[] = [];
  let k = 0;
  overlay.layers.forEach((layer, l) => {
    const fanOut = realNeurons(layer, classes);
    const names = layer.bias ? NAMES_WITH_BIAS : NAMES_NO_BIAS;
    const vectors: Record<string, Float64Array> = {};
    for (const what of names) {
      const a = get(k);
      const where = `${fileName}: arr_${k} (layer ${l} ${what})`;
      k++;
      const want =
        what !== 'W'
          ? [fanOut]
          : layer.conv
            ? [fanOut, layer.conv.inChannels, layer.conv.kernel, layer.conv.kernel]
            : [layer.fanIn, fanOut];
      if (a.shape.length !== want.length || a.shape.some((d, i) => d !== want[i]))
        throw new InputFormatError(where, `shape ${tuple(a.shape)}, expected ${tuple(want)} for ${network}`);
      const d = a.data;
      checkValues(d, what, where, {
        position: (i) => `flat index ${i}`,
        ternaryWeights: what === 'W' && layer.weightBits === 2,
      });
      vectors[what] = d;
    }
    layers.push({
      fanIn: layer.fanIn,
      fanOut,
      W: vectors.W as Float64Array,
      b: vectors.b ?? new Float64Array(fanOut),
      beta: vectors.beta as Float64Array,
      gamma: vectors.gamma as Float64Array,
      mean: vectors.mean as Float64Array,
      invStd: vectors.inv_std as Float64Array,
    });
  });
  return { overlay, source: fileName, layers, classes };
}

/** Reads and validates a model of `network` (or of the network its arrays imply) from its `.npz` bytes. */
export function loadOverlayModel(bytes: Uint8Array, fileName: string, network?: string): OverlayModel {
  if (network !== undefined && !isOverlayName(network))
    throw new UserError(`--network ${network}: choose one of ${OVERLAY_NAMES.join(', ')}`);
  const arrays = readNpz(bytes, fileName);
  return parseOverlayModel(arrays, fileName, network ?? inferNetwork(arrays, fileName));
}
