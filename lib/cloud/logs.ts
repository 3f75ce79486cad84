import { GetLogEventsCommand, type GetLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import { aws, awsErrorName } from './aws-errors';
import type { CloudClients } from './clients';
import { type Clock, realClock } from './instance';
import { readText } from './runs';

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
      // No such stream: the caller decides where else to look (the run's train.log in S3).
      return false;
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

/**
 * Prints a text object in S3 (a run's train.log, which the instance re-uploads after every epoch); with
 * `follow`, polls it and prints only what was appended, until `isDone()` and one more read. Returns
 * whether the object was seen at all.
 */
export async function followS3Text(
  clients: CloudClients,
  bucket: string,
  key: string,
  onText: (text: string) => void,
  options: { follow?: boolean; isDone?: () => Promise<boolean>; clock?: Clock; pollMs?: number } = {},
): Promise<boolean> {
  const clock = options.clock ?? realClock;
  let printed = 0;
  let seen = false;
  let finishing = false;
  for (;;) {
    const text = await readText(clients, bucket, key);
    if (text !== undefined) {
      seen = true;
      // A new attempt of the run may start a shorter log: print it from its start.
      if (text.length < printed) printed = 0;
      if (text.length > printed) onText(text.slice(printed));
      printed = text.length;
    }
    if (!options.follow || finishing) return seen;
    if (options.isDone && (await options.isDone())) finishing = true;
    await clock.sleep(options.pollMs ?? 10_000);
  }
}
