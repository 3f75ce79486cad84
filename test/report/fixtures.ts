/**
 * Realistic run records, made here rather than stored: a Fashion-MNIST LFC run as the instance's
 * scripts/instance/bnn_train/progress.py writes progress.jsonl (its exact field names, errors in percent),
 * and a verify.json in the conversion job's bnn-pynq-verify/1 shape, at the shared model's figures
 * (board rule 83.81 %, argmax 84.65 %: ../shared/data/README.md).
 */
import { CLASS_PRESETS } from '../../lib/bnn/presets';
import { at, must } from '../../lib/defined';

export const FASHION_CLASSES = [...must(CLASS_PRESETS['fashion-mnist'], 'the fashion-mnist preset')];

/** One progress.jsonl record per epoch; errors fall like a real BNN run's (noisy, board rule ~0.8 points worse). */
export function progressLines(
  epochs: number,
  total = epochs,
  select: 'board' | 'argmax' = 'board',
): string[] {
  const lines: string[] = [];
  let best: { err: number; epoch: number; testBoard: number; testArgmax: number } | undefined;
  const times: number[] = [];
  for (let e = 1; e <= epochs; e++) {
    const wobble = Math.sin(e * 1.7) * 0.35;
    const valArgmax = 14.2 + 5.6 * Math.exp(-e / 9) + wobble;
    const valBoard = valArgmax + 0.7 + 0.4 * Math.exp(-e / 15);
    const testArgmax = valArgmax + 1.1 + Math.cos(e * 1.3) * 0.2;
    const testBoard = testArgmax + 0.84;
    const seconds = 9.4 + (e % 3) * 0.2;
    times.push(seconds);
    const selected = select === 'board' ? valBoard : valArgmax;
    const improved = best === undefined || selected <= best.err;
    if (improved) best = { err: selected, epoch: e, testBoard, testArgmax };
    const r = (x: number) => Math.round(x * 100) / 100;
    lines.push(
      JSON.stringify({
        epoch: e,
        epochs: total,
        lr: 0.003 * (3e-7 / 0.003) ** ((e - 1) / Math.max(1, total - 1)),
        train_loss: Math.round((0.02 + 0.1 * Math.exp(-e / 6) + Math.sin(e) * 0.002) * 1e5) / 1e5,
        val_loss: r(0.03 + 0.08 * Math.exp(-e / 8)),
        val_error_argmax: r(valArgmax),
        val_error_board: r(valBoard),
        val_no_bit_rate: r(5.9 - e * 0.02),
        val_multi_bit_rate: r(1.2),
        val_nonpositive_rate: null,
        test_loss: r(0.031 + 0.08 * Math.exp(-e / 8)),
        test_error_argmax: r(testArgmax),
        test_error_board: r(testBoard),
        test_no_bit_rate: r(5.3),
        test_multi_bit_rate: r(1.1),
        test_nonpositive_rate: null,
        select,
        improved,
        best_epoch: best?.epoch,
        best_val_error: r(best?.err ?? 0),
        best_test_error_board: r(best?.testBoard ?? 0),
        best_test_error_argmax: r(best?.testArgmax ?? 0),
        seconds: r(seconds),
        elapsed_seconds: r(times.reduce((a, b) => a + b, 0)),
        eta_seconds: r((times.reduce((a, b) => a + b, 0) / times.length) * (total - e)),
        time: new Date(Date.UTC(2026, 10, 26, 6, 15, 0) + e * 9500).toISOString().replace(/\.\d+Z$/, 'Z'),
      }),
    );
  }
  return lines;
}

/** Board-rule confusion matrix over the 10,000 Fashion-MNIST test images, 8,381 correct (83.81 %). */
export function fashionConfusion(): number[][] {
  const wrong: Record<number, Record<number, number>> = {
    0: { 6: 110, 2: 20, 3: 40, 4: 10, 8: 15, 1: 5 },
    1: { 3: 30, 0: 10, 4: 5 },
    2: { 4: 120, 6: 100, 0: 25, 3: 10, 8: 5 },
    3: { 0: 45, 4: 40, 6: 35, 1: 15, 2: 5 },
    4: { 2: 120, 6: 80, 3: 35, 0: 5 },
    5: { 7: 45, 9: 15, 8: 5 },
    6: { 0: 170, 2: 120, 4: 90, 3: 40, 8: 20 },
    7: { 5: 35, 9: 45 },
    8: { 0: 15, 2: 10, 6: 10, 5: 10, 4: 5 },
    9: { 7: 60, 5: 34, 8: 5 },
  };
  return Array.from({ length: 10 }, (_, t) => {
    const row = Array.from({ length: 10 }, (_, p) => wrong[t]?.[p] ?? 0);
    row[t] = 1000 - row.reduce((a, b) => a + b, 0);
    return row;
  });
}

/** The count of true class `t` predicted as `p`. */
export const confusionCell = (confusion: number[][], t: number, p: number): number =>
  at(at(confusion, t, 'the confusion matrix'), p, `row ${t} of the confusion matrix`);

export function verifyJson(runId: string, dataset = 'fashion-mnist'): string {
  const confusion = fashionConfusion();
  const correct = confusion.reduce((s, _, i) => s + confusionCell(confusion, i, i), 0);
  return `${JSON.stringify(
    {
      schema: 'bnn-pynq-verify/1',
      runId,
      dataset,
      network: 'lfcW1A1',
      model: { key: `runs/${runId}/model.npz`, sha256: 'ab'.repeat(32), size: 2_967_000 },
      testSet: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz', count: 10000 },
      classes: FASHION_CLASSES,
      classesSource: 'preset fashion-mnist',
      board: {
        rule: 'highest set output bit, 0 if none (BNN-PYNQ batch path)',
        accuracy: (100 * correct) / 10000,
        correct,
        total: 10000,
        perClass: FASHION_CLASSES.map((name, index) => ({
          index,
          name,
          total: 1000,
          correct: confusionCell(confusion, index, index),
          accuracy: confusionCell(confusion, index, index) / 10,
        })),
        confusion,
        noBitFired: 530,
        severalBitsFired: 112,
      },
      float: {
        argmaxAccuracy: 84.65,
        boardRuleAccuracy: 83.81,
        agreementWithHardware: { same: 9999, percent: 99.99 },
        disagreements: [],
      },
      params: `runs/${runId}/params/${dataset}/lfcW1A1/`,
      minAccuracyPercent: 50,
      publish: { requested: true, decision: 'published' },
    },
    null,
    2,
  )}\n`;
}
