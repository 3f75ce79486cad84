/**
 * A small seeded PRNG (mulberry32) and Fisher-Yates shuffle. The split must be reproducible from
 * `--seed` alone on any machine, so it cannot use Math.random; 32 bits of state are plenty for
 * shuffling a few hundred thousand images.
 */

import { must } from '../defined';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `items` in place with `random` and returns it. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = must(items[i], 'the items to shuffle');
    items[i] = must(items[j], 'the items to shuffle');
    items[j] = a;
  }
  return items;
}
