/**
 * Reading the training run's records, tolerantly: `progress.jsonl` (one JSON object per epoch, written by
 * the instance's training loop) and `verify.json` (written by the conversion job). Field names are matched
 * by their words, not letter for letter (`valid_error_board`, `validationErrorBoard`, `val.error.board`
 * all mean the same), and missing fields stay undefined. Errors and accuracies are percents, as
 * scripts/instance/bnn_train/progress.py writes them (`val_error_board`, `test_error_argmax`, ...).
 * Pure: no I/O.
 */

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

/** Splits camelCase, snake_case, dotted and dashed names into lower-case words. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Flattens nested objects into [path, number] pairs: {valid: {error: {board: 1}}} → [['valid_error_board', 1]]. */
function numericFields(value: unknown, prefix = ''): Array<[string, number]> {
  if (typeof value === 'number' && Number.isFinite(value)) return [[prefix, value]];
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      numericFields(v, prefix ? `${prefix}_${k}` : k),
    );
  }
  return [];
}

const has = (w: string[], ...any: string[]) => any.some((a) => w.includes(a));
const VALID = ['val', 'valid', 'validation'];
const ERROR = ['err', 'error', 'errors'];
const ACC = ['acc', 'accuracy'];
const ruleOf = (w: string[]): Rule => (has(w, 'board', 'hw', 'hardware', 'bit', 'bits') ? 'board' : 'argmax');

interface Raw {
  point: EpochPoint;
  /** Accuracy fields, turned into errors (100 - accuracy) unless the line also has the error itself. */
  accuracies: Array<{ series: 'validError' | 'testError'; rule: Rule; value: number }>;
}

function classify(obj: Record<string, unknown>): Raw | undefined {
  const point: EpochPoint = { epoch: Number.NaN, validError: {}, testError: {} };
  const accuracies: Raw['accuracies'] = [];
  for (const [key, value] of numericFields(obj)) {
    const w = words(key);
    const isErr = has(w, ...ERROR);
    const isAcc = has(w, ...ACC);
    if (has(w, 'best')) {
      if (has(w, 'epoch')) point.bestEpoch = value;
      else if (isErr && (has(w, ...VALID) || !has(w, 'test'))) {
        // Prefer the board rule's best when both are written (the board rule selects the model by default).
        if (point.bestValidError === undefined || ruleOf(w) === 'board') point.bestValidError = value;
      }
      continue;
    }
    if (w.length === 1 && w[0] === 'epoch') point.epoch = value;
    else if (has(w, 'epochs') || (has(w, 'total') && has(w, 'epoch'))) point.epochs = value;
    else if (has(w, 'eta')) point.etaSeconds = value;
    else if (has(w, 'lr') || (has(w, 'learning') && has(w, 'rate'))) point.learningRate = value;
    else if (has(w, 'loss') && !has(w, ...VALID, 'test')) point.trainLoss = value;
    else if (isErr || isAcc) {
      const series = has(w, ...VALID) ? 'validError' : has(w, 'test') ? 'testError' : undefined;
      if (!series) continue;
      if (isErr) point[series][ruleOf(w)] = value;
      else accuracies.push({ series, rule: ruleOf(w), value });
    } else if (has(w, 'seconds', 'secs', 'duration') && !has(w, 'elapsed', 'total')) {
      point.seconds = value;
    }
  }
  if (!Number.isFinite(point.epoch)) return undefined;
  return { point, accuracies };
}

/** Parses progress.jsonl text. Blank and unparseable lines are skipped (and counted), never fatal. */
export function parseProgress(text: string): ProgressLog {
  const raws: Raw[] = [];
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
    const raw =
      obj && typeof obj === 'object' && !Array.isArray(obj)
        ? classify(obj as Record<string, unknown>)
        : undefined;
    if (raw) raws.push(raw);
    else skipped++;
  }
  // A resumed run can repeat an epoch: the last line written for an epoch wins.
  const byEpoch = new Map<number, EpochPoint>();
  for (const { point, accuracies } of raws) {
    // An error field wins over an accuracy field for the same series and rule.
    for (const a of accuracies) point[a.series][a.rule] ??= 100 - a.value;
    byEpoch.set(point.epoch, point);
  }
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
