import { GetLogEventsCommand, type GetLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import { aws, awsErrorName, CloudError } from './aws-errors';
import type { CloudClients } from './clients';
import { type Clock, realClock } from './instance';

export interface LogLine {
  timestamp: number;
  message: string;
}

/**
 * Prints a CloudWatch log stream from its start; with `follow`, keeps polling until `isDone()` says the
 * producer has finished and one more poll brings nothing new. Returns false when the stream does not exist.
 */
export async function streamLog(
  clients: CloudClients,
  logGroup: string,
  logStream: string,
  onLine: (line: LogLine) => void,
  options: { follow?: boolean; isDone?: () => Promise<boolean>; clock?: Clock; pollMs?: number } = {},
): Promise<boolean> {
  const clock = options.clock ?? realClock;
  let token: string | undefined;
  let finishing = false;
  for (;;) {
    let out: GetLogEventsCommandOutput | undefined;
    try {
      out = await clients.logs.send(
        new GetLogEventsCommand({
          logGroupName: logGroup,
          logStreamName: logStream,
          startFromHead: true,
          nextToken: token,
        }),
      );
    } catch (err) {
      if (awsErrorName(err) !== 'ResourceNotFoundException') {
        await aws('logs:GetLogEvents', () => Promise.reject(err));
      }
      // No stream yet: the run has not logged anything. Following waits for it to appear.
      if (!options.follow) return false;
      if (options.isDone && (await options.isDone())) return false;
      await clock.sleep(options.pollMs ?? 3_000);
      continue;
    }
    const events = out.events ?? [];
    for (const e of events)
      onLine({ timestamp: e.timestamp ?? 0, message: (e.message ?? '').replace(/\n$/, '') });
    // GetLogEvents returns the same token when there is nothing new.
    const next = out.nextForwardToken;
    const gotNothing = events.length === 0 || next === token;
    token = next;
    if (gotNothing) {
      if (!options.follow || finishing) return true;
      if (options.isDone && (await options.isDone())) finishing = true;
      await clock.sleep(options.pollMs ?? 3_000);
    }
  }
}

export const logGroupMissing = (logGroup: string, cause?: unknown) =>
  new CloudError(
    'stack-not-deployed',
    `log group ${logGroup} does not exist: run \`npx cdk deploy\` again`,
    cause,
  );
