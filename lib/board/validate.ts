/** Board accuracy and agreement with the simulator: pure arithmetic on predictions and labels. */
import { must } from '../defined';

export interface ValidationSummary {
  total: number;
  correct: number;
  /** Percent, 0..100. */
  accuracy: number;
  /** The simulator's accuracy on the same images and the same files. */
  simulatedAccuracy: number;
  /** Images whose board prediction differs from the simulator's. */
  disagreements: number;
  /** The first few disagreeing images (index, label, board, simulated). */
  examples: Array<{ image: number; label: number; board: number; simulated: number }>;
}

export function summarize(
  board: ArrayLike<number>,
  labels: ArrayLike<number>,
  simulated: ArrayLike<number>,
  maxExamples = 5,
): ValidationSummary {
  const total = labels.length;
  let correct = 0;
  let simulatedCorrect = 0;
  let disagreements = 0;
  const examples: ValidationSummary['examples'] = [];
  for (let i = 0; i < total; i++) {
    const b = must(board[i], 'board class');
    const s = must(simulated[i], 'simulated class');
    const l = must(labels[i], 'label');
    if (b === l) correct++;
    if (s === l) simulatedCorrect++;
    if (b !== s) {
      disagreements++;
      if (examples.length < maxExamples) examples.push({ image: i, label: l, board: b, simulated: s });
    }
  }
  const pct = (n: number) => (total === 0 ? 0 : (100 * n) / total);
  return {
    total,
    correct,
    accuracy: pct(correct),
    simulatedAccuracy: pct(simulatedCorrect),
    disagreements,
    examples,
  };
}
