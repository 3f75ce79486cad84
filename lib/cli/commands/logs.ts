import type { Command } from 'commander';
import { discoverStack } from '../../cloud/discovery';
import { followS3Text, streamLog } from '../../cloud/logs';
import { assertRunId, readRun } from '../../cloud/runs';
import { UserError } from '../../errors';
import { logStreams, runKeys } from '../../layout';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { following } from '../ui/follow';

export interface LogsOptions {
  follow?: boolean;
  bootstrap?: boolean;
  timestamps?: boolean;
}

/**
 * `bnn-pynq logs <runId> [-f]` prints the run's CloudWatch stream (and follows it until the run ends);
 * `--bootstrap` prints the instance's bootstrap stream. When a run has no stream (logs expired, or
 * CloudWatch not reachable from the instance), the copy in S3 (`train.log`) is printed instead.
 */
export async function runLogs(env: CloudEnv, runId: string | undefined, options: LogsOptions): Promise<void> {
  const { clients, term } = env;
  if (!runId && !options.bootstrap)
    throw new UserError('name a run (`bnn-pynq logs <runId>`, see `bnn-pynq runs`) or pass --bootstrap');
  if (runId) assertRunId(runId);
  const stack = await discoverStack(clients, env.stackName, env.region);
  const stream = runId ? logStreams.run(runId) : logStreams.bootstrap(stack.instanceId);
  const print = ({ timestamp, message }: { timestamp: number; message: string }) =>
    term.out(options.timestamps ? `${new Date(timestamp).toISOString()} ${message}\n` : `${message}\n`);
  const isDone = runId
    ? async () => {
        const run = await readRun(clients, stack.artifactBucket, runId, { verify: false }).catch(
          () => undefined,
        );
        return ['succeeded', 'failed', 'stopped'].includes(run?.status?.state ?? '');
      }
    : undefined;
  const found = await following(() =>
    streamLog(clients, stack.logGroup, stream, print, {
      follow: options.follow && runId !== undefined,
      isDone,
      clock: env.clock,
    }),
  );
  if (found) return;
  if (!runId) {
    throw new UserError(
      `no bootstrap log for ${stack.instanceId} in ${stack.logGroup} yet: the instance may not have booted since deploy (\`bnn-pynq status\`)`,
    );
  }
  // No CloudWatch stream for this run: its train.log in S3 (uploaded after every epoch) is the log.
  // The run must exist first, or following would wait forever.
  await readRun(clients, stack.artifactBucket, runId, { verify: false });
  const key = runKeys(runId).log;
  term.err(`(no CloudWatch stream ${stream}; reading s3://${stack.artifactBucket}/${key})\n`);
  let last = '';
  const seen = await following(() =>
    followS3Text(
      clients,
      stack.artifactBucket,
      key,
      (text) => {
        term.out(text);
        last = text;
      },
      { follow: options.follow, isDone, clock: env.clock },
    ),
  );
  if (seen && last !== '' && !last.endsWith('\n')) term.out('\n');
  if (!seen) {
    throw new UserError(
      `run ${runId} has no log yet (no stream ${stream} in ${stack.logGroup}, no ${key}): retry in a minute, or use -f to wait`,
    );
  }
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('logs [runId]')
      .description("Print a run's log (CloudWatch, or its S3 copy); -f follows it until the run ends")
      .option('-f, --follow', 'keep printing new lines until the run ends')
      .option('--bootstrap', "print the instance's bootstrap log instead")
      .option('--timestamps', 'prefix each line with its time (UTC)'),
  ).action(async (runId: string | undefined, options: LogsOptions & CloudOptions) =>
    runLogs(ctx.cloudEnv(options), runId, options),
  );
}
