import { type Command, InvalidArgumentError, Option } from 'commander';
import { CloudError } from '../../cloud/aws-errors';
import { discoverStack, type StackResources } from '../../cloud/discovery';
import { describeInstance, ensureReady } from '../../cloud/instance';
import { objectExists, type RunRecord, readRun } from '../../cloud/runs';
import { sendTrainCommand, type TrainParameters, waitForCommand } from '../../cloud/ssm';
import { UserError } from '../../errors';
import {
  BUILTIN_DATASETS,
  DATASET_MANIFEST_FILE,
  DATASET_NAME_PATTERN,
  DEFAULT_DATASET,
  datasetPrefix,
  newRunId,
} from '../../layout';
import { totalEpochs } from '../../report/progress';
import { parameterPattern, TRAINING_PARAMETERS, type TrainingParameter } from '../../training/parameters';
import { positiveInt } from '../args';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { following } from '../ui/follow';
import { formatDuration, formatPercent, progressBar } from '../ui/format';
import { startSpinner } from '../ui/spinner';
import { paint } from '../ui/terminal';

/**
 * `bnn-pynq train`'s options. The training parameters among them are made from the training-parameter table
 * (scripts/instance/training-parameters.json), under commander's name for the table's `cli` flag.
 */
export interface TrainOptions {
  dataset?: string;
  epochs?: number;
  wb?: number;
  ab?: number;
  batchSize?: number;
  lrStart?: number;
  lrEnd?: number;
  seed?: number;
  limitTrain?: number;
  select?: string;
  keepRunning?: boolean;
  follow?: boolean;
  timeout?: number;
  /** Any other parameter of the table. */
  [option: string]: string | number | boolean | undefined;
}

/** The table's parameters that are `bnn-pynq train` options, each with its commander Option. */
function cliParameters(): Array<{ parameter: TrainingParameter; option: Option }> {
  return TRAINING_PARAMETERS.flatMap((parameter) =>
    parameter.cli === null ? [] : [{ parameter, option: trainOption(parameter, parameter.cli) }],
  );
}

/**
 * The commander Option of a table parameter: the table's description (and default) as help. A pattern that is a
 * list of words (`^(board|argmax)$`) becomes commander's choices(); any other value must match the table's
 * pattern (what the `train` document would accept) and becomes a number when the table says so.
 */
export function trainOption(parameter: TrainingParameter, flags: string): Option {
  const option = new Option(
    flags,
    // A boolean flag has no value; an empty default means "the network's own" (its description says so).
    parameter.type === 'boolean' || parameter.default === ''
      ? parameter.description
      : `${parameter.description} (default: ${parameter.default})`,
  );
  if (parameter.type === 'boolean') return option;
  const pattern = parameterPattern(parameter);
  const words = /^\^\(([a-z0-9-]+(?:\|[a-z0-9-]+)+)\)\$$/.exec(pattern.source);
  if (words?.[1] && parameter.type === 'string') return option.choices(words[1].split('|'));
  return option.argParser((value: string) => {
    if (!pattern.test(value))
      throw new InvalidArgumentError(`${option.long} must be ${parameter.expected}, got "${value}"`);
    return parameter.type === 'integer' || parameter.type === 'number' ? Number(value) : value;
  });
}

/** One line about a run's progress, tolerant of whatever fields progress.jsonl has. */
export function describeProgress(run: RunRecord): string {
  const last = run.progress.points.at(-1);
  const total = totalEpochs(run.progress, run.request?.epochs);
  if (!last)
    return run.status?.state === 'starting' ? 'starting (no epoch finished yet)' : 'no epoch finished yet';
  const parts = [`epoch ${last.epoch}${total ? `/${total}` : ''}`];
  const v = last.validError;
  if (v.board !== undefined || v.argmax !== undefined) {
    parts.push(
      `valid err ${[v.board !== undefined ? `${formatPercent(v.board)} board` : '', v.argmax !== undefined ? `${formatPercent(v.argmax)} argmax` : ''].filter(Boolean).join(' / ')}`,
    );
  }
  if (last.bestValidError !== undefined) {
    parts.push(
      `best ${formatPercent(last.bestValidError)}${last.bestEpoch !== undefined ? ` @${last.bestEpoch}` : ''}`,
    );
  }
  const t = last.testError.board ?? last.testError.argmax;
  if (t !== undefined) parts.push(`test err ${formatPercent(t)}`);
  if (last.etaSeconds !== undefined && run.status?.state === 'running')
    parts.push(`ETA ${formatDuration(last.etaSeconds)}`);
  return parts.join(', ');
}

const TERMINAL_STATES = ['succeeded', 'failed', 'stopped'];

/**
 * Follows a run until it ends: a redrawn progress bar on a TTY, one line per finished epoch otherwise.
 * Resolves with the final record; throws when the run fails or the instance stops under it.
 */
export async function followRun(
  env: CloudEnv,
  stack: StackResources,
  runId: string,
  options: { pollMs?: number } = {},
): Promise<RunRecord> {
  const { term, clients, clock } = env;
  const started = clock.now();
  let lastEpoch = -1;
  let polls = 0;
  for (;;) {
    const run = await readRun(clients, stack.artifactBucket, runId, { verify: false }).catch((err) => {
      // The run's first files appear a few seconds after the command returns.
      if (err instanceof CloudError && err.kind === 'run-not-found' && clock.now() - started < 5 * 60_000)
        return undefined;
      throw err;
    });
    if (run) {
      const last = run.progress.points.at(-1);
      const total = totalEpochs(run.progress, run.request?.epochs);
      if (term.live) {
        const bar = total && last ? `${progressBar(last.epoch / total)} ` : '';
        // One terminal line, never wrapped: a wrapped line cannot be redrawn with \r.
        term.err(`\r\x1b[K${`${bar}${describeProgress(run)}`.slice(0, Math.max(20, term.columns - 1))}`);
      } else if (last && last.epoch !== lastEpoch) {
        term.err(`${describeProgress(run)}\n`);
      }
      lastEpoch = last?.epoch ?? lastEpoch;
      const state = run.status?.state;
      if (state && TERMINAL_STATES.includes(state)) {
        if (term.live) term.err('\n');
        if (state === 'succeeded') return run;
        throw new CloudError(
          'failed',
          `run ${runId} ${state}${run.status?.detail ? `: ${run.status.detail}` : ''}; read \`bnn-pynq logs ${runId}\``,
        );
      }
    }
    // Every few polls, make sure the instance is still there to do the work (spot stop, idle alarm).
    if (++polls % 4 === 0) {
      const inst = await describeInstance(clients, stack.instanceId);
      if (inst.state === 'stopped' || inst.state === 'stopping') {
        if (term.live) term.err('\n');
        throw new CloudError(
          'instance-stopped',
          `instance ${inst.id} is ${inst.state} while run ${runId} is unfinished (spot interruption or idle alarm?): \`bnn-pynq start\` resumes it from its last checkpoint`,
        );
      }
    }
    await clock.sleep(options.pollMs ?? 15_000);
  }
}

export async function runTrain(env: CloudEnv, options: TrainOptions): Promise<string> {
  const { term, clients } = env;
  const dataset = options.dataset ?? DEFAULT_DATASET;
  if (!DATASET_NAME_PATTERN.test(dataset)) {
    throw new UserError(
      `--dataset "${dataset}" is not a dataset name (lower-case letters, digits and dashes, e.g. fashion-mnist)`,
    );
  }
  const stack = await discoverStack(clients, env.stackName, env.region);
  if (!(BUILTIN_DATASETS as readonly string[]).includes(dataset)) {
    const key = `${datasetPrefix(dataset)}${DATASET_MANIFEST_FILE}`;
    if (!(await objectExists(clients, stack.datasetBucket, key))) {
      throw new UserError(
        `dataset ${dataset} is not in s3://${stack.datasetBucket}/${datasetPrefix(dataset)}: upload it with \`bnn-pynq dataset import <folder> --name ${dataset} --upload\` (built-in: ${BUILTIN_DATASETS.join(', ')})`,
      );
    }
  }

  const spinner = startSpinner(term, 'checking the instance', env.clock.now);
  let ready: Awaited<ReturnType<typeof ensureReady>>;
  try {
    ready = await ensureReady(clients, stack, {
      clock: env.clock,
      timeoutMs: (options.timeout ?? 30) * 60_000,
      onStage: ({ stage }) => spinner.update(`waiting: ${stage}`),
    });
  } catch (err) {
    spinner.fail('instance not ready');
    throw err;
  }
  spinner.succeed(`instance ready (${ready.bootstrap.raw}${ready.started ? ', started' : ''})`);
  if (ready.bootstrap.device === 'cpu') {
    term.err(
      `${paint(term, 'yellow', 'note:')} training runs on the CPU (${ready.bootstrap.note ?? 'no GPU'}): expect it to be much slower\n`,
    );
  }

  const runId = newRunId(dataset, new Date(env.clock.now()));
  // Only what the user gave; the document's defaults (the table's) fill the rest. A flag left off is not sent.
  const parameters: TrainParameters = { runId, dataset };
  for (const { parameter, option } of cliParameters()) {
    const value = options[option.attributeName()];
    if (value !== undefined && value !== false && parameter.name !== 'dataset')
      parameters[parameter.name] = String(value);
  }
  const commandId = await sendTrainCommand(clients, stack, parameters);
  const invocation = await waitForCommand(clients, commandId, stack.instanceId, { clock: env.clock });
  if (invocation.status !== 'Success') {
    const tail = (invocation.stderr || invocation.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new CloudError(
      'failed',
      `the train command ${invocation.status} on ${stack.instanceId}${tail ? `: ${tail}` : ''}; read \`bnn-pynq logs ${runId}\``,
    );
  }
  term.out(`${runId}\n`);
  term.err(
    `run ${runId} started on ${dataset}. Watch it: \`bnn-pynq watch ${runId}\` or \`bnn-pynq logs ${runId} -f\`; list: \`bnn-pynq runs\`\n`,
  );
  if (!options.keepRunning)
    term.err('the instance stops itself when the run ends (--keep-running keeps it up)\n');
  if (options.follow) {
    const run = await following(() => followRun(env, stack, runId));
    term.err(`${paint(term, 'green', 'done:')} ${describeProgress(run)}\n`);
    term.err(
      `the conversion job starts by itself; then \`bnn-pynq fetch --run ${runId}\` (or \`bnn-pynq convert-run ${runId}\` by hand) and \`bnn-pynq report ${runId}\`\n`,
    );
  }
  return runId;
}

/** `bnn-pynq watch <runId>`: follows a run until it ends. */
export async function runWatch(env: CloudEnv, runId: string): Promise<void> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const run = await following(() => followRun(env, stack, runId));
  env.term.err(`done: ${describeProgress(run)}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  const train = program
    .command('train')
    .description('Start a training run on the instance (starting the instance if needed); prints the run id');
  for (const { option } of cliParameters()) train.addOption(option);
  addCloudOptions(
    train
      .option('-f, --follow', 'show a live progress bar until the run ends')
      .option(
        '--timeout <minutes>',
        'how long to wait for the instance to become ready',
        positiveInt('--timeout'),
        30,
      ),
  ).action(async (options: TrainOptions & CloudOptions) => {
    await runTrain(ctx.cloudEnv(options), options);
  });
  addCloudOptions(
    program.command('watch <runId>').description('Follow a running training run with a live progress bar'),
  ).action(async (runId: string, options: CloudOptions) => runWatch(ctx.cloudEnv(options), runId));
}
