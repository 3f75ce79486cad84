/**
 * `bnn-pynq sweep …` (docs/sweeps.md). This module registers the commands and answers `--dry-run` with the grid
 * alone; everything that talks to AWS is in ./sweep-run, loaded only when needed (the SDK clients take most of a
 * second to load).
 */
import type { Command } from 'commander';
import { UserError } from '../../errors';
import { newSweepId } from '../../layout';
import {
  type GridParameter,
  type PlannedRun,
  parseGridArg,
  planSweep,
  type RunParameters,
  runParameter,
} from '../../sweep/grid';
import { SWEEP_JOB_RESOURCES } from '../../sweep/job-resources';
import type { Market } from '../../sweep/record';
import { collect, positiveInt } from '../args';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { renderTable } from '../ui/format';
import type { Terminal } from '../ui/terminal';

export interface SweepOptions {
  grid: string[];
  dataset?: string;
  network?: string;
  epochs?: number;
  batchSize?: number;
  lr?: string;
  lrEnd?: string;
  limitTrain?: number;
  select?: string;
  onDemand?: boolean;
  maxParallel?: number;
  dryRun?: boolean;
  follow?: boolean;
  /** Minutes to wait for the image build. */
  buildTimeout?: number;
}

/** The options that apply to every run, as train parameter values (validated by planSweep). */
export function fixedParameters(o: SweepOptions): Partial<RunParameters> {
  const fixed: Partial<Record<GridParameter, string | undefined>> = {
    dataset: o.dataset,
    network: o.network,
    epochs: o.epochs === undefined ? undefined : String(o.epochs),
    batchSize: o.batchSize === undefined ? undefined : String(o.batchSize),
    learningRateStart: o.lr,
    learningRateEnd: o.lrEnd,
    limitTrain: o.limitTrain === undefined ? undefined : String(o.limitTrain),
    select: o.select,
  };
  return Object.fromEntries(
    Object.entries(fixed).filter(([, v]) => v !== undefined),
  ) as Partial<RunParameters>;
}

export function printDryRun(
  term: Terminal,
  runs: readonly PlannedRun[],
  keys: readonly GridParameter[],
  market: Market,
): void {
  term.out(
    renderTable(
      ['#', 'run', ...keys],
      runs.map((r) => [String(r.index), r.runId, ...keys.map((k) => runParameter(r.parameters, k))]),
    ),
  );
  term.err(
    `dry run: ${runs.length} run${runs.length === 1 ? '' : 's'} on ${market} GPUs (${SWEEP_JOB_RESOURCES.gpus} GPU, ${SWEEP_JOB_RESOURCES.vcpus} vCPUs each), ${runs[0]?.parameters.epochs || "the network's"} epochs each; nothing was checked, written or submitted\n`,
  );
}

/** `--dry-run` without AWS (and without loading the SDK). Returns the sweep id it would have used. */
export function runSweepDryRun(env: Pick<CloudEnv, 'term' | 'clock'>, options: SweepOptions): string {
  if (options.grid.length === 0)
    throw new UserError('give at least one --grid key=values (e.g. --grid seed=1..4)');
  const axes = options.grid.map(parseGridArg);
  const sweepId = newSweepId(new Date(env.clock.now()));
  const runs = planSweep(sweepId, axes, fixedParameters(options));
  printDryRun(
    env.term,
    runs,
    axes.map((a) => a.key),
    options.onDemand ? 'on-demand' : 'spot',
  );
  return sweepId;
}

const cloud = (): typeof import('./sweep-run') => require('./sweep-run');

export function register(program: Command, ctx: CliContext): void {
  const sweep = program
    .command('sweep')
    .description(
      'Many runs at once on AWS Batch Spot GPUs: a grid of learning rates, seeds, datasets, networks (docs/sweeps.md)',
    );
  addCloudOptions(
    sweep
      .command('submit', { isDefault: true })
      .description(
        'Expand the grid, build the image if needed, submit one Batch array job; prints the sweep id',
      )
      .option(
        '--grid <key=values>',
        'a grid axis: key=v1,v2 or key=first..last (repeat for more axes)',
        collect,
        [],
      )
      .option('--dataset <name>', 'dataset of every run (unless a grid key)')
      .option('--network <name>', 'overlay network of every run (unless a grid key)')
      .option('--epochs <n>', 'epochs of every run', positiveInt('--epochs'))
      .option('--batch-size <n>', 'mini-batch size', positiveInt('--batch-size'))
      .option('--lr <rate>', 'learning rate at epoch 1')
      .option('--lr-end <rate>', 'learning rate at the last epoch')
      .option(
        '--limit-train <n>',
        'train on the first n images only (smoke sweeps)',
        positiveInt('--limit-train'),
      )
      .option('--select <rule>', 'best-epoch selection inside each run: board (default) or argmax')
      .option('--spot', 'run on Spot GPUs (the default)')
      .option('--on-demand', 'run on on-demand GPUs (no interruptions, about 2.5× the price)')
      .option('--max-parallel <n>', 'at most n runs at once', positiveInt('--max-parallel'))
      .option('--dry-run', 'print the runs the grid expands to; check nothing, write nothing')
      .option('-f, --follow', 'wait until every run has finished, then print the status table')
      .option(
        '--build-timeout <minutes>',
        'how long to wait for the image build',
        positiveInt('--build-timeout'),
        90,
      ),
  ).action(async (options: SweepOptions & CloudOptions & { spot?: boolean }) => {
    if (options.spot && options.onDemand) throw new UserError('--spot and --on-demand exclude each other');
    const env = ctx.cloudEnv(options);
    if (options.dryRun) runSweepDryRun(env, options);
    else await cloud().runSweep(env, options);
  });
  addCloudOptions(
    sweep
      .command('status <sweepId>')
      .description(
        'One line per run: state, epoch, best validation error (board rule), attempts, cost so far',
      ),
  ).action(async (sweepId: string, options: CloudOptions) => {
    await cloud().runSweepStatus(ctx.cloudEnv(options), sweepId);
  });
  addCloudOptions(
    sweep.command('cancel <sweepId>').description('Cancel queued runs and terminate running ones'),
  ).action(async (sweepId: string, options: CloudOptions) =>
    cloud().runSweepCancel(ctx.cloudEnv(options), sweepId),
  );
  addCloudOptions(
    sweep
      .command('best <sweepId>')
      .description('The run with the lowest validation error under the board rule (never test error)')
      .option('--publish', 'convert, verify and publish it through the conversion job'),
  ).action(async (sweepId: string, options: CloudOptions & { publish?: boolean }) => {
    await cloud().runSweepBest(ctx.cloudEnv(options), sweepId, options);
  });
  addCloudOptions(
    sweep
      .command('report <sweepId>')
      .description('One HTML page: every run’s curves, the grid as a table, the chosen run')
      .option('--out <file>', 'where to write it (default: ./sweep-<sweepId>.html)'),
  ).action(async (sweepId: string, options: CloudOptions & { out?: string }) => {
    await cloud().runSweepReport(ctx.cloudEnv(options), sweepId, options);
  });
}
