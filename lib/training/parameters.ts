/**
 * The training parameters, from their one table: scripts/instance/training-parameters.json. The table sits in
 * the instance's scripts asset because the instance reads it too (train.sh, run-training.sh, bnn_train); this
 * module is its TypeScript face. The `train` SSM document's parameters, `bnn-pynq train`'s options and the
 * name patterns of lib/layout.ts are made from it; test/training/parameters.test.ts holds every side to it.
 * How to add a parameter: docs/training.md.
 */
import table from '../../scripts/instance/training-parameters.json';

/** How a parameter's value is written in run.json (SSM passes every value as a string). */
export type ParameterType = 'string' | 'integer' | 'number' | 'boolean';

export interface TrainingParameter {
  /** The `train` document's parameter name and the run.json key. */
  readonly name: string;
  readonly type: ParameterType;
  /** The default, as the string SSM would pass (the document's default; the trainer's too). */
  readonly default: string;
  /** A key of the table's `patterns`. */
  readonly pattern: string;
  /** True when an empty value is allowed and means "choose for me" (the run id). */
  readonly emptyAllowed?: boolean;
  /** What a valid value is, in words that read after "expected" or "must be". */
  readonly expected: string;
  /** One sentence: the document's parameter description and the CLI option's help. */
  readonly description: string;
  /** The `bnn-pynq train` option (commander flags, e.g. `--epochs <n>`); null when the CLI sets it itself. */
  readonly cli: string | null;
  /** The `python -m bnn_train` option; null when the trainer does not take it. */
  readonly trainer: string | null;
  /** True when bnn_train requires the option (run-training.sh passes these before --device). */
  readonly trainerRequired?: boolean;
  /** `network`: bnn_train's default is the network's (bnn_train/networks.py); `default` is the default network's. */
  readonly trainerDefault?: 'network';
  /** A value that means "leave the option out" for the trainer (limitTrain 0 = all images). */
  readonly trainerOmits?: string;
}

export const PARAMETER_PATTERNS: Readonly<Record<string, string>> = table.patterns;
export const TRAINING_PARAMETERS: readonly TrainingParameter[] = table.parameters as TrainingParameter[];

export function trainingParameter(name: string): TrainingParameter {
  const p = TRAINING_PARAMETERS.find((x) => x.name === name);
  if (!p) throw new Error(`no training parameter "${name}" in scripts/instance/training-parameters.json`);
  return p;
}

function namedPattern(key: string): string {
  const source = PARAMETER_PATTERNS[key];
  if (source === undefined)
    throw new Error(`pattern "${key}" is not in scripts/instance/training-parameters.json`);
  return source;
}

/** The parameter's rule as an anchored pattern source; `^(x)?$` when an empty value is allowed. */
export function patternSource(p: TrainingParameter): string {
  const source = namedPattern(p.pattern);
  return p.emptyAllowed ? `^(${source.slice(1, -1)})?$` : source;
}

/** The parameter's rule as a RegExp (what sweep grids and CLI values are checked with). */
export const parameterPattern = (p: TrainingParameter): RegExp => new RegExp(patternSource(p));

/** A named pattern of the table as a RegExp (run ids, dataset names). */
export const tablePattern = (key: string): RegExp => new RegExp(namedPattern(key));
