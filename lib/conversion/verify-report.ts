import type { ConversionOutcome } from './engine';

/**
 * `runs/<runId>/verify.json`: what the conversion job verified and decided. Deterministic (no
 * timestamps or timings), so converting the same run twice writes the same bytes.
 */
export interface VerifyReportInput {
  runId: string;
  dataset: string;
  network: string;
  model: { key: string; sha256: string; size: number };
  /** Object keys of the test set (CNV: the records file, labels included, in both). */
  testSet: { images: string; labels: string };
  outcome: ConversionOutcome;
  runParams: string;
  minAccuracyPercent: number;
  publish: { requested: boolean; decision: string };
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

export function buildVerifyReport(input: VerifyReportInput): Uint8Array {
  const { outcome } = input;
  const board = outcome.board;
  const report = {
    schema: 'bnn-pynq-verify/1',
    runId: input.runId,
    dataset: input.dataset,
    network: input.network,
    model: input.model,
    testSet: { ...input.testSet, count: board.total },
    classes: outcome.classes,
    classesSource: outcome.classesSource,
    board: {
      rule: board.rule,
      accuracy: round(board.accuracy),
      correct: board.correct,
      total: board.total,
      perClass: board.perClass.map((c) => ({
        ...c,
        accuracy: c.accuracy === null ? null : round(c.accuracy),
      })),
      confusion: board.confusion,
      ...(input.network.startsWith('lfc')
        ? { noBitFired: board.noneFired, severalBitsFired: board.ambiguous }
        : { allScoresNonPositive: board.noneFired, tiedMaximum: board.ambiguous }),
    },
    float: outcome.float
      ? {
          images: outcome.float.images,
          argmaxAccuracy: round(outcome.float.argmaxAccuracy),
          boardRuleAccuracy: round(outcome.float.boardRuleAccuracy),
          agreementWithHardware: {
            same: outcome.float.agreementWithHardware.same,
            percent: round(outcome.float.agreementWithHardware.percent),
          },
          ...(outcome.float.causes ? { causes: outcome.float.causes } : {}),
          disagreements: outcome.float.disagreements.slice(0, 20),
        }
      : null,
    conversion: outcome.summary,
    params: input.runParams,
    minAccuracyPercent: input.minAccuracyPercent,
    publish: input.publish,
  };
  return Buffer.from(`${JSON.stringify(report, null, 2)}\n`);
}
