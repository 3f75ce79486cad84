import { readFileSync } from 'node:fs';
import path from 'node:path';
import { boardClass, highestSetBit, maxPositiveScore } from '../../lib/bnn';

/** The shared vectors that hold lib/bnn/decision.ts and bnn_train/board.py to the same rules. */
const vectors = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'vectors', 'decision-rules.json'), 'utf8'),
) as {
  highestSetBit: Array<{ lanes: number[]; class: number }>;
  maxPositiveScore: Array<{ scores: number[]; class: number }>;
};

test.each(vectors.highestSetBit)('LFC batch rule on $lanes -> $class', ({ lanes, class: expected }) => {
  expect(highestSetBit(lanes, lanes.length)).toBe(expected);
  // The lfcW1A1 simulator's packed form of the same rule.
  const lo = lanes.reduce((w, b, i) => (b ? w | (1 << i) : w), 0) >>> 0;
  expect(boardClass(lo, 0, lanes.length)).toBe(expected);
});

test.each(vectors.maxPositiveScore)('CNV batch rule on $scores -> $class', ({ scores, class: expected }) => {
  expect(maxPositiveScore(scores, scores.length)).toBe(expected);
});
