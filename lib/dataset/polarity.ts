import { must } from '../defined';
import { IMAGE_PIXELS, IMAGE_SIDE } from './limits';

/**
 * Polarity: the board expects white-on-black (MNIST). A dataset photographed or drawn as dark ink on
 * a light page must be inverted, or the binarized input is mostly ones and the network learns the
 * background. `auto` looks at the border ring of every image (the background, for centred objects)
 * and decides once for the whole dataset, so all classes get the same treatment.
 */

export const INVERT_MODES = ['auto', 'yes', 'no'] as const;
export type InvertMode = (typeof INVERT_MODES)[number];

export interface PolarityDecision {
  mode: InvertMode;
  inverted: boolean;
  /** Median over images of the mean border brightness, before any inversion (0..255). */
  medianBorder: number;
  /** Near the middle: the user should look at preview.png. */
  ambiguous: boolean;
}

const RING: number[] = (() => {
  const ring: number[] = [];
  for (let i = 0; i < IMAGE_SIDE; i++) {
    ring.push(i, (IMAGE_SIDE - 1) * IMAGE_SIDE + i);
    if (i > 0 && i < IMAGE_SIDE - 1) ring.push(i * IMAGE_SIDE, i * IMAGE_SIDE + IMAGE_SIDE - 1);
  }
  return ring;
})();

/** Mean of the outermost ring of pixels of the image at `offset` in `pixels`. */
export function borderMean(pixels: Uint8Array, offset = 0): number {
  let sum = 0;
  for (const i of RING) sum += must(pixels[offset + i], 'the images');
  return sum / RING.length;
}

/** Decides from `count` consecutive 28×28 images in `pixels`. */
export function decidePolarity(pixels: Uint8Array, count: number, mode: InvertMode): PolarityDecision {
  const means = new Float64Array(count);
  for (let k = 0; k < count; k++) means[k] = borderMean(pixels, k * IMAGE_PIXELS);
  means.sort();
  const mean = (k: number) => must(means[k], 'the sorted border means');
  const medianBorder =
    count === 0 ? 0 : count % 2 ? mean((count - 1) / 2) : (mean(count / 2 - 1) + mean(count / 2)) / 2;
  const inverted = mode === 'yes' || (mode === 'auto' && medianBorder >= 128);
  return { mode, inverted, medianBorder, ambiguous: medianBorder > 64 && medianBorder < 192 };
}

/** 255 - v for every pixel, in place. */
export function invertInPlace(pixels: Uint8Array): void {
  for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - must(pixels[i], 'the pixels');
}

export function describePolarity(d: PolarityDecision): string {
  const border = `median border brightness ${d.medianBorder.toFixed(0)}/255`;
  const ambiguous = d.ambiguous
    ? '; the background is neither clearly dark nor light: check preview.png'
    : '';
  if (d.mode === 'auto')
    return d.inverted
      ? `black-on-white detected (${border}): inverted to white-on-black (--invert no keeps it)${ambiguous}`
      : `white-on-black detected (${border}): kept as is (--invert yes inverts)${ambiguous}`;
  return d.inverted ? `inverted (--invert yes; ${border})` : `kept as is (--invert no; ${border})`;
}
