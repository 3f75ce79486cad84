import { captures, must } from '../defined';
import { UserError } from '../errors';
import { mulberry32, shuffleInPlace } from './random';

/**
 * Stratified, seeded train/validation/test split. Identical images (same 28×28 pixels after
 * conversion) form one unit and always land in the same split, so no test image has a copy in
 * training. Each class gets its share by largest remainder, so 80/10/10 of 15 images is 12/2/1
 * (not 12/1/1 plus a lost image).
 */

export type SplitPercent = [number, number, number];

export function parseSplit(text: string): SplitPercent {
  const m = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(text.trim());
  const [train, validation, test] = m ? captures(m, 3, 'the --split pattern') : [];
  const parts: SplitPercent = [Number(train), Number(validation), Number(test)];
  if (!m || Math.abs(parts.reduce((a, b) => a + b, 0) - 100) > 1e-9)
    throw new UserError(
      `--split ${text}: expected train/validation/test percentages that add up to 100, e.g. 80/10/10 (0/0/100 puts everything in the test split)`,
    );
  return parts;
}

/** How many of `n` images go to each split: floors, then the remainder to the largest fractions (train first on ties). */
export function splitCounts(n: number, percent: SplitPercent): [number, number, number] {
  const quota = (p: number) => (n * p) / 100;
  const quotas: [number, number, number] = [quota(percent[0]), quota(percent[1]), quota(percent[2])];
  const counts: [number, number, number] = [
    Math.floor(quotas[0]),
    Math.floor(quotas[1]),
    Math.floor(quotas[2]),
  ];
  let rest = n - counts[0] - counts[1] - counts[2];
  const order: (0 | 1 | 2)[] = [0, 1, 2];
  order.sort((a, b) => quotas[b] - counts[b] - (quotas[a] - counts[a]) || a - b);
  for (const i of order) {
    if (rest <= 0) break;
    counts[i] = counts[i] + 1;
    rest--;
  }
  return counts;
}

/** The smallest class size for which every split with a non-zero percentage gets at least one image. */
export function minimumPerClass(percent: SplitPercent): number {
  for (let n = 1; n < 100_000; n++) {
    const c = splitCounts(n, percent);
    if (c.every((k, i) => k > 0 || percent[i] === 0)) return n;
  }
  return Number.POSITIVE_INFINITY;
}

/** Refuses a class too small for the split, naming it. `counts[c]` = images of class c. */
export function checkClassSizes(
  classNames: string[],
  counts: number[],
  percent: SplitPercent,
  after = '',
): void {
  const need = minimumPerClass(percent);
  const small = classNames.findIndex((_, c) => (counts[c] ?? 0) < need);
  if (small >= 0)
    throw new UserError(
      `class '${classNames[small]}' has ${counts[small]} image(s)${after}; --split ${percent.join('/')} needs at least ${need} per class so that every split gets one. Add images to it or change --split`,
    );
}

export interface SplitItem {
  /** Index into the caller's image list. */
  index: number;
  classIndex: number;
  /** Images with the same key (content hash) are kept together. */
  key: string;
}

export interface SplitResult {
  /** Indices per split, each in seeded random order. */
  train: number[];
  validation: number[];
  test: number[];
  /** Images per class per split: [class][train, validation, test]. */
  perClass: [number, number, number][];
}

export function stratifiedSplit(
  items: SplitItem[],
  classCount: number,
  percent: SplitPercent,
  seed: number,
): SplitResult {
  const random = mulberry32(seed);
  // Units: groups of identical images, homed in the class of their first member.
  const units = new Map<string, { home: number; members: SplitItem[] }>();
  for (const item of items) {
    const unit = units.get(item.key);
    if (unit) unit.members.push(item);
    else units.set(item.key, { home: item.classIndex, members: [item] });
  }
  const byClass: SplitItem[][][] = Array.from({ length: classCount }, () => []);
  for (const { home, members } of units.values()) must(byClass[home], 'the units by class').push(members);
  const out: SplitResult = {
    train: [],
    validation: [],
    test: [],
    perClass: Array.from({ length: classCount }, () => [0, 0, 0] as [number, number, number]),
  };
  const lists: [number[], number[], number[]] = [out.train, out.validation, out.test];
  for (const unitsOfClass of byClass) {
    const classUnits = shuffleInPlace(unitsOfClass, random);
    const total = classUnits.reduce((s, u) => s + u.length, 0);
    const [, validationTarget, testTarget] = splitCounts(total, percent);
    // Test first, then validation, then the rest to training: small targets are met exactly.
    let filledTest = 0;
    let filledValidation = 0;
    for (const unit of classUnits) {
      let split: 0 | 1 | 2 = 0;
      if (filledTest < testTarget) {
        split = 2;
        filledTest += unit.length;
      } else if (filledValidation < validationTarget) {
        split = 1;
        filledValidation += unit.length;
      }
      for (const item of unit) {
        lists[split].push(item.index);
        const counts = must(out.perClass[item.classIndex], 'the per-class counts');
        counts[split] = counts[split] + 1;
      }
    }
  }
  for (const list of lists) shuffleInPlace(list, random);
  return out;
}
