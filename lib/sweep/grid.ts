/**
 * A sweep's grid: `--grid key=v1,v2` / `--grid seed=1..4` axes → the full list of runs, in a fixed order (the
 * cartesian product, first axis outermost, last axis fastest), each value checked with the SAME pattern the
 * `train` document checks it with (the one table of training parameters, lib/training/parameters.ts), so a sweep
 * run can never hold a request a single `train` run would refuse. Pure: no AWS, no clock (the sweep id is passed in).
 */
import { at, must } from '../defined';
import { UserError } from '../errors';
import { RUN_ID_PATTERN, SWEEP_ID_PATTERN, sweepRunId } from '../layout';
import {
  PARAMETER_PATTERNS,
  parameterPattern,
  patternSource,
  TRAINING_PARAMETERS,
  trainingParameter,
} from '../training/parameters';

/**
 * Train parameters a grid may vary: every row of the parameter table but runId (the sweep makes them) and
 * keepRunning (a Batch job has no instance to keep).
 */
export const GRID_PARAMETERS: readonly string[] = TRAINING_PARAMETERS.map((p) => p.name).filter(
  (n) => n !== 'runId' && n !== 'keepRunning',
);
export type GridParameter = string;

/** Short names accepted beside the document's parameter names: the `train` CLI's option names, and `lr`. */
export const GRID_ALIASES: Readonly<Record<string, GridParameter>> = {
  lr: 'learningRateStart',
  ...Object.fromEntries(
    TRAINING_PARAMETERS.flatMap((p) => {
      const alias = p.cli && GRID_PARAMETERS.includes(p.name) ? /^--([a-z-]+)/.exec(p.cli)?.[1] : undefined;
      return alias !== undefined && alias !== p.name ? [[alias, p.name]] : [];
    }),
  ),
};

/** Batch array jobs take up to 10,000 children; a sweep this large is a typo more often than a plan. */
export const MAX_SWEEP_RUNS = 1000;
/** Values of one axis. */
const MAX_AXIS_VALUES = 1000;

export interface GridAxis {
  readonly key: GridParameter;
  readonly values: readonly string[];
}

/** Every grid parameter's value as SSM would pass it ('' = the network's own value, chosen by bnn_train). */
export type RunParameters = Record<string, string>;

/** `parameters[key]`: planSweep gives every run every grid parameter, so one missing is a bug. */
export function runParameter(parameters: RunParameters, key: GridParameter): string {
  return must(parameters[key], `the run's ${key} parameter`);
}

export interface PlannedRun {
  readonly index: number;
  readonly runId: string;
  /** Every parameter of the run (grid value, else the fixed option, else the train document's default). */
  readonly parameters: RunParameters;
}

function resolveKey(raw: string, where: string): GridParameter {
  if (GRID_PARAMETERS.includes(raw)) return raw;
  const alias = GRID_ALIASES[raw];
  if (alias) return alias;
  throw new UserError(
    `${where}: unknown grid key "${raw}"; use one of ${[...Object.keys(GRID_ALIASES), ...GRID_PARAMETERS].join(', ')}`,
  );
}

/** Checks one value of `key` with the train document's pattern (the parameter table's). */
export function checkValue(key: GridParameter, value: string, where: string): void {
  const p = trainingParameter(key);
  if (value === '' || !parameterPattern(p).test(value)) {
    throw new UserError(
      `${where}: ${key} "${value}" is not valid: expected ${p.expected} (the train document's pattern ${PARAMETER_PATTERNS[p.pattern] ?? patternSource(p)})`,
    );
  }
}

/** `seed=1..4` → 1,2,3,4; `lr=0.003,0.001` → two values. */
export function parseGridArg(arg: string): GridAxis {
  const where = `--grid ${arg}`;
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UserError(`${where}: expected key=value,value or key=first..last (e.g. seed=1..4)`);
  const key = resolveKey(arg.slice(0, eq).trim(), where);
  const text = arg.slice(eq + 1).trim();
  const range = /^(\d{1,9})\.\.(\d{1,9})$/.exec(text);
  let values: string[];
  if (range) {
    const [first, last] = [Number(range[1]), Number(range[2])];
    if (last < first) throw new UserError(`${where}: the range ${text} is empty (first > last)`);
    if (last - first + 1 > MAX_AXIS_VALUES) {
      throw new UserError(`${where}: the range ${text} has more than ${MAX_AXIS_VALUES} values`);
    }
    values = Array.from({ length: last - first + 1 }, (_, i) => String(first + i));
  } else {
    values = text.split(',').map((v) => v.trim());
    if (values.some((v) => v === '')) throw new UserError(`${where}: empty value (check the commas)`);
  }
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new UserError(`${where}: value "${v}" appears twice`);
    seen.add(v);
    checkValue(key, v, where);
  }
  return { key, values };
}

/** The default of every parameter: the table's ('' for the network's own value, as train.sh leaves it). */
function defaults(): RunParameters {
  return Object.fromEntries(GRID_PARAMETERS.map((k) => [k, trainingParameter(k).default]));
}

/** Number of runs of a grid (the product of the axis sizes), without expanding it. */
export function gridSize(axes: readonly GridAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/**
 * Expands the grid into runs. `fixed` holds the options that apply to every run (e.g. --epochs); a key may be
 * fixed or gridded, not both. Throws a UserError naming the problem for anything a train run would refuse.
 */
export function planSweep(
  sweepId: string,
  axes: readonly GridAxis[],
  fixed: Partial<RunParameters> = {},
): PlannedRun[] {
  if (!SWEEP_ID_PATTERN.test(sweepId)) throw new Error(`planSweep: invalid sweep id ${sweepId}`);
  if (axes.length === 0) throw new UserError('give at least one --grid key=values (e.g. --grid seed=1..4)');
  const keys = new Set<GridParameter>();
  for (const a of axes) {
    if (keys.has(a.key))
      throw new UserError(`--grid ${a.key} is given twice; put all its values in one --grid`);
    keys.add(a.key);
    if (fixed[a.key] !== undefined) {
      throw new UserError(`${a.key} is both a grid key and a fixed option; drop one of them`);
    }
  }
  for (const [k, v] of Object.entries(fixed))
    if (v !== undefined) checkValue(k as GridParameter, v, `--${k}`);
  const total = gridSize(axes);
  if (total > MAX_SWEEP_RUNS) {
    throw new UserError(`the grid has ${total} runs; a sweep takes at most ${MAX_SWEEP_RUNS} (split it)`);
  }
  const base = { ...defaults(), ...fixed };
  const runs: PlannedRun[] = [];
  // The last axis varies fastest.
  const lastAxisFirst = [...axes].reverse();
  for (let index = 0; index < total; index++) {
    const point: RunParameters = {};
    let rest = index;
    for (const axis of lastAxisFirst) {
      point[axis.key] = at(axis.values, rest % axis.values.length, `--grid ${axis.key}'s values`);
      rest = Math.floor(rest / axis.values.length);
    }
    const merged: RunParameters = { ...base, ...point } as RunParameters;
    const network = runParameter(merged, 'network');
    // As train.sh: bits, when given, must be the network's (lfcW1A2 is A2; cnvW2A2 the only W2).
    for (const [key, at] of [
      ['weightBits', 4],
      ['activationBits', 6],
    ] as const) {
      const v = merged[key];
      if (v && v !== network[at]) {
        throw new UserError(
          `${key}=${v} does not fit network ${network}; leave it out (the network's is used)`,
        );
      }
    }
    const runId = sweepRunId(sweepId, index, total);
    if (!RUN_ID_PATTERN.test(runId)) throw new Error(`planSweep: run id ${runId} breaks RUN_ID_PATTERN`);
    runs.push({ index, runId, parameters: merged });
  }
  return runs;
}
