import type { Command } from 'commander';
import { CloudError } from '../../cloud/aws-errors';
import { type ConversionOutcome, parseConversionOutcome } from '../../cloud/conversion-outcome';
import { discoverStack } from '../../cloud/discovery';
import { assertRunId, objectExists, readRun } from '../../cloud/runs';
import { startConvertAutomation, waitForAutomation } from '../../cloud/ssm';
import { publishedParamsPrefix, runKeys } from '../../layout';
import type { VerifySummary } from '../../report/progress';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { formatPercent } from '../ui/format';
import { startSpinner } from '../ui/spinner';

export interface ConvertRunOptions {
  dataset?: string;
  publish?: boolean;
}

/** The verify summary as a few lines: accuracy, argmax, agreement, worst classes. */
export function formatVerify(v: VerifySummary): string {
  const lines = [
    `board accuracy ${formatPercent(v.accuracy)}${v.correct !== undefined && v.total !== undefined ? ` (${v.correct}/${v.total})` : ''}`,
  ];
  if (v.argmaxAccuracy !== undefined) lines.push(`float model, argmax ${formatPercent(v.argmaxAccuracy)}`);
  if (v.agreement !== undefined)
    lines.push(`params agree with the float model (board rule) on ${formatPercent(v.agreement)} of images`);
  if (v.perClass && v.perClass.length > 0) {
    const named = v.perClass.map((acc, i) => ({ acc, name: v.classes?.[i] ?? `class ${i}` }));
    const worst = named
      .filter((w) => Number.isFinite(w.acc))
      .sort((a, b) => a.acc - b.acc)
      .slice(0, 3);
    lines.push(`weakest classes: ${worst.map((w) => `${w.name} ${formatPercent(w.acc, 1)}`).join(', ')}`);
  }
  if (v.noBitFired !== undefined && v.total) {
    lines.push(
      `no output bit fired on ${v.noBitFired} images (${formatPercent((100 * v.noBitFired) / v.total)}): the board reads them as class 0`,
    );
  }
  if (v.publishDecision) lines.push(`publish: ${v.publishDecision}`);
  return `${lines.join('\n')}\n`;
}

/** One line for a conversion that did not convert: what the Lambda (or the automation) said. */
function describeFailure(
  runId: string,
  outcome: Exclude<ConversionOutcome, { kind: 'converted' }>,
  executionId: string,
): string {
  switch (outcome.kind) {
    case 'refused':
      return `conversion of ${runId} refused: ${outcome.message}`;
    case 'crashed':
      return `conversion of ${runId} failed in the Lambda (${outcome.errorType}: ${outcome.message}); details: \`aws ssm get-automation-execution --automation-execution-id ${executionId}\``;
    case 'timed-out':
      return `conversion of ${runId} timed out: ${outcome.message}`;
    case 'failed':
      return `conversion of ${runId} ${outcome.status}${outcome.step ? ` at step ${outcome.step}` : ''}: ${outcome.message}`;
  }
}

/** `bnn-pynq convert-run <runId>`: runs the stack's convert automation on a run and prints its verify summary. */
export async function runConvertRun(env: CloudEnv, runId: string, options: ConvertRunOptions): Promise<void> {
  const { clients, term } = env;
  assertRunId(runId);
  const stack = await discoverStack(clients, env.stackName, env.region);
  const run = await readRun(clients, stack.artifactBucket, runId, { verify: false });
  if (!(await objectExists(clients, stack.artifactBucket, runKeys(runId).model))) {
    throw new CloudError(
      'not-found',
      `run ${runId} has no model.npz yet (state: ${run.status?.state ?? 'unknown'}): wait for it to finish (\`bnn-pynq watch ${runId}\`)`,
    );
  }
  // Empty: the automation takes the dataset (and the network the run was trained as) from the run's run.json.
  const dataset = options.dataset ?? run.request?.dataset ?? '';
  const publish = options.publish !== false;
  const executionId = await startConvertAutomation(clients, stack, {
    runId,
    dataset,
    network: '',
    publish: String(publish),
  });
  const spinner = startSpinner(term, `converting and verifying ${runId} (${executionId})`, env.clock.now);
  const result = await waitForAutomation(clients, executionId, {
    clock: env.clock,
    onStatus: (s) => spinner.update(`conversion ${s}`),
  }).catch((err) => {
    spinner.fail('conversion');
    throw err;
  });
  // The Lambda's own answer (the convert step's Payload/FunctionError) decides, not the status alone.
  const outcome = parseConversionOutcome(result.execution);
  if (outcome.kind !== 'converted') {
    spinner.fail(`conversion ${outcome.kind === 'failed' ? outcome.status : outcome.kind}`);
    throw new CloudError('failed', `${describeFailure(runId, outcome, executionId)}; nothing was published`);
  }
  spinner.succeed(`converted ${runId}`);
  const after = await readRun(clients, stack.artifactBucket, runId);
  if (after.verify) term.out(formatVerify(after.verify));
  else term.err(`note: s3://${stack.artifactBucket}/${runKeys(runId).verify} is missing or unreadable\n`);
  term.err(
    publish
      ? `published to s3://${stack.artifactBucket}/${publishedParamsPrefix(after.request?.dataset ?? dataset)}: \`bnn-pynq fetch --dataset ${after.request?.dataset ?? dataset}\`\n`
      : `not published (--no-publish): \`bnn-pynq fetch --run ${runId}\`\n`,
  );
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('convert-run <runId>')
      .description(
        "Convert a finished run's model.npz to the board's param folder in the cloud, verify it, publish it, and print the verify summary (the local equivalent is `convert <model.npz>`)",
      )
      .option('--dataset <name>', 'dataset of the run (default: from its run.json)')
      .option(
        '--no-publish',
        "write the run's params and verify.json only, keep the published params as they are",
      ),
  ).action(async (runId: string, options: ConvertRunOptions & CloudOptions) =>
    runConvertRun(ctx.cloudEnv(options), runId, options),
  );
}
