/**
 * Reading the training run's records: `progress.jsonl` (one JSON object per epoch, written by the instance's
 * training loop) and `verify.json` (written by the conversion job). progress.jsonl's fields are defined once, in
 * scripts/instance/progress.schema.json (the Python writer builds its records from the same file): each property
 * read here names its EpochPoint field with `x-report`. Fields the schema does not have, and values of another
 * type, are left out; missing fields stay undefined. Errors are percents. Pure: no I/O.
 */
import progressSchema from '../../scripts/instance/progress.schema.json';

export type Rule = 'argmax' | 'board';

export interface EpochPoint {
  epoch: number;
  epochs?: number;
  trainLoss?: number;
  /** Validation error in percent, per decision rule. */
  validError: Partial<Record<Rule, number>>;
  /** Test error in percent, per decision rule. */
  testError: Partial<Record<Rule, number>>;
  bestValidError?: number;
  bestEpoch?: number;
  /** Seconds this epoch took. */
  seconds?: number;
  etaSeconds?: number;
  learningRate?: number;
}

export interface ProgressLog {
  points: EpochPoint[];
  /** Lines that were not JSON objects with an epoch number (kept so the report can say so). */
  skipped: number;
}

type Scalar = Exclude<keyof EpochPoint, 'validError' | 'testError'>;
/** Where a schema property lands in an EpochPoint: a scalar field, or a series and its decision rule. */
export type ReportTarget = Scalar | `${'validError' | 'testError'}.${Rule}`;
const SCALARS: readonly Scalar[] = [
  'epoch',
  'epochs',
  'trainLoss',
  'bestValidError',
  'bestEpoch',
  'seconds',
  'etaSeconds',
  'learningRate',
];
export const REPORT_TARGETS: readonly ReportTarget[] = [
  ...SCALARS,
  ...(['validError', 'testError'] as const).flatMap((s) =>
    (['argmax', 'board'] as const).map((r) => `${s}.${r}` as const),
  ),
];

interface SchemaProperty {
  type?: string | string[];
  enum?: readonly unknown[];
  description?: string;
  'x-report'?: string;
}
/** The record's properties, as the schema defines them. */
export const PROGRESS_PROPERTIES: Readonly<Record<string, SchemaProperty>> = progressSchema.properties;

/** [schema field, EpochPoint target] for every property the report reads. */
export const REPORTED_FIELDS: ReadonlyArray<readonly [string, ReportTarget]> = Object.entries(
  PROGRESS_PROPERTIES,
).flatMap(([field, spec]) => {
  const target = spec['x-report'];
  if (target === undefined) return [];
  if (!(REPORT_TARGETS as readonly string[]).includes(target))
    throw new Error(`progress.schema.json: ${field} has x-report "${target}", not an EpochPoint field`);
  return [[field, target as ReportTarget] as const];
});

function pointOf(obj: Record<string, unknown>): EpochPoint | undefined {
  const point: EpochPoint = { epoch: Number.NaN, validError: {}, testError: {} };
  for (const [field, target] of REPORTED_FIELDS) {
    const value = obj[field];
    // Every field the report reads is a number (integer or not); null (not computed) and other types stay out.
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const [series, rule] = target.split('.') as ['validError' | 'testError', Rule];
    if (rule) point[series][rule] = value;
    else point[target as Scalar] = value;
  }
  return Number.isInteger(point.epoch) ? point : undefined;
}

/** Parses progress.jsonl text. Blank and unparseable lines are skipped (and counted), never fatal. */
export function parseProgress(text: string): ProgressLog {
  const read: EpochPoint[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const point =
      obj && typeof obj === 'object' && !Array.isArray(obj)
        ? pointOf(obj as Record<string, unknown>)
        : undefined;
    if (point) read.push(point);
    else skipped++;
  }
  // A resumed run can repeat an epoch: the last line written for an epoch wins.
  const byEpoch = new Map<number, EpochPoint>();
  for (const point of read) byEpoch.set(point.epoch, point);
  const points = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  // Fill "best so far" when the writer did not: the lowest validation error up to each epoch (board rule first).
  let best: { error: number; epoch: number } | undefined;
  for (const p of points) {
    const e = p.validError.board ?? p.validError.argmax;
    if (e !== undefined && (best === undefined || e < best.error)) best = { error: e, epoch: p.epoch };
    if (p.bestValidError === undefined && best) p.bestValidError = best.error;
    if (p.bestEpoch === undefined && best && p.bestValidError === best.error) p.bestEpoch = best.epoch;
  }
  return { points, skipped };
}

/** The total epoch count of the run, when any line or the request says it. */
export const totalEpochs = (log: ProgressLog, requested?: number): number | undefined =>
  log.points.at(-1)?.epochs ?? requested;

export interface VerifySummary {
  /** Board-rule accuracy in percent on the test set (hardware-exact simulator). */
  accuracy: number;
  correct?: number;
  total?: number;
  /** Per-class board accuracy in percent, by class index (NaN for a class with no test images). */
  perClass?: number[];
  /** confusion[true][predicted] counts. */
  confusion?: number[][];
  classes?: string[];
  microsecondsPerImage?: number;
  /** Test images where no output bit fired (all read as class 0), and where several fired. */
  noBitFired?: number;
  severalBitsFired?: number;
  /** The float model under argmax (what training reports), when the job compared it. */
  argmaxAccuracy?: number;
  /** Percent of images where the float model (board rule) and the converted params agree. */
  agreement?: number;
  /** The conversion job's publish decision, e.g. "published" or "refused: accuracy below 80 %". */
  publishDecision?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * Parses verify.json: the conversion job's `bnn-pynq-verify/1` (figures under `board` and `float`) or the
 * flat object of `bnn-pynq verify --json`. Throws an Error naming `where` when it has no accuracy.
 */
export function parseVerify(text: string, where: string): VerifySummary {
  let v: Record<string, unknown> | undefined;
  try {
    v = obj(JSON.parse(text));
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
  if (!v) throw new Error(`${where}: not a JSON object`);
  const board = obj(v.board) ?? v;
  const float = obj(v.float);
  const accuracy = num(board.accuracy);
  if (accuracy === undefined) throw new Error(`${where}: no board accuracy (board.accuracy or accuracy)`);
  const confusion =
    Array.isArray(board.confusion) &&
    board.confusion.every((r) => Array.isArray(r) && r.every((c) => typeof c === 'number'))
      ? (board.confusion as number[][])
      : undefined;
  const perClass = Array.isArray(board.perClass)
    ? board.perClass.map((p) => num(p) ?? num(obj(p)?.accuracy) ?? Number.NaN)
    : undefined;
  const classesRaw = v.classes ?? board.classes;
  const classes =
    Array.isArray(classesRaw) && classesRaw.every((c) => typeof c === 'string')
      ? (classesRaw as string[])
      : undefined;
  const publish = obj(v.publish);
  return {
    accuracy,
    correct: num(board.correct),
    total: num(board.total),
    perClass: perClass && perClass.length > 0 ? perClass : undefined,
    confusion,
    classes,
    microsecondsPerImage: num(board.microsecondsPerImage),
    noBitFired: num(board.noBitFired),
    severalBitsFired: num(board.severalBitsFired),
    argmaxAccuracy: num(float?.argmaxAccuracy) ?? num(obj(v.against)?.argmaxAccuracy),
    agreement:
      num(obj(float?.agreementWithHardware)?.percent) ?? num(obj(obj(v.against)?.agreement)?.percent),
    publishDecision: typeof publish?.decision === 'string' ? publish.decision : undefined,
  };
}
