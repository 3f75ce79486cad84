import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { RUN_ID_PATTERN, RUN_STATES, RUNS_ROOT_PREFIX, type RunState, runKeys, runStateKey } from '../layout';
import { type ProgressLog, parseProgress, parseVerify, type VerifySummary } from '../report/progress';
import { aws, awsErrorName, CloudError } from './aws-errors';
import type { CloudClients } from './clients';

/** Reads an S3 object as text, or undefined when it does not exist. Other failures are mapped. */
export async function readText(
  clients: Pick<CloudClients, 's3'>,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  try {
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await out.Body?.transformToString('utf-8')) ?? '';
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
    return aws(`s3:GetObject (s3://${bucket}/${key})`, () => Promise.reject(err));
  }
}

export async function objectExists(clients: CloudClients, bucket: string, key: string): Promise<boolean> {
  try {
    await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'NoSuchKey' || name === 'NotFound') return false;
    return aws(`s3:GetObject (s3://${bucket}/${key})`, () => Promise.reject(err));
  }
}

/** Every key under `prefix` (paged). */
export async function listKeys(
  clients: Pick<CloudClients, 's3'>,
  bucket: string,
  prefix: string,
): Promise<Array<{ key: string; size: number }>> {
  const keys: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  do {
    const page = await aws(`s3:ListBucket (s3://${bucket}/${prefix})`, () =>
      clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The immediate "sub-folders" of `prefix`, e.g. run ids under `runs/`. */
export async function listFolders(clients: CloudClients, bucket: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await aws(`s3:ListBucket (s3://${bucket}/${prefix})`, () =>
      clients.s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      ),
    );
    for (const p of page.CommonPrefixes ?? []) {
      if (p.Prefix) names.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return names;
}

/** `run.json`: the request the CLI sent (read loosely: only what the CLI shows). */
const RunRequestSchema = z
  .object({
    runId: z.string().optional(),
    dataset: z.string().optional(),
    // null: the network's own epoch count (bnn_train chooses it; progress.jsonl then says it)
    epochs: z.preprocess((v) => (v === null ? undefined : v), z.coerce.number().optional()),
    network: z.string().optional(),
  })
  .loose();
export type RunRequest = z.infer<typeof RunRequestSchema>;

const RunStatusSchema = z
  .object({
    state: z.string(),
    message: z.string().optional(),
    reason: z.string().optional(),
    error: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .loose();

export interface RunStatus {
  state: RunState | 'unknown';
  /** The raw state word when it is not one of RUN_STATES. */
  raw?: string;
  detail?: string;
  updatedAt?: string;
}

export interface RunRecord {
  runId: string;
  request?: RunRequest;
  status?: RunStatus;
  progress: ProgressLog;
  result?: Record<string, unknown>;
  verify?: VerifySummary;
  hasModel: boolean;
}

const parseJson = (text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export function parseRunStatus(text: string | undefined): RunStatus | undefined {
  const parsed = RunStatusSchema.safeParse(parseJson(text));
  if (!parsed.success) return undefined;
  const { state, message, reason, error, updatedAt } = parsed.data;
  const known = (RUN_STATES as readonly string[]).includes(state);
  return {
    state: known ? (state as RunState) : 'unknown',
    raw: known ? undefined : state,
    detail: error ?? reason ?? message,
    updatedAt,
  };
}

export function assertRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new CloudError(
      'run-not-found',
      `"${runId}" is not a run id (expected something like 20261126-061500-fashion-mnist-a1b2): list them with \`bnn-pynq runs\``,
    );
  }
}

export function runNotFound(runId: string, bucket: string): CloudError {
  return new CloudError(
    'run-not-found',
    `run ${runId} not found in s3://${bucket}/${RUNS_ROOT_PREFIX}: list runs with \`bnn-pynq runs\` (wrong --stack or --region?)`,
  );
}

/** Reads everything the CLI shows about one run. Throws run-not-found when the run has no files at all. */
export async function readRun(
  clients: CloudClients,
  bucket: string,
  runId: string,
  what: { verify?: boolean } = {},
): Promise<RunRecord> {
  assertRunId(runId);
  const keys = runKeys(runId);
  const [request, state, progress, result, verify, hasModel] = await Promise.all([
    readText(clients, bucket, keys.request),
    readText(clients, bucket, runStateKey(runId)),
    readText(clients, bucket, keys.progress),
    readText(clients, bucket, keys.result),
    what.verify === false ? Promise.resolve(undefined) : readText(clients, bucket, keys.verify),
    objectExists(clients, bucket, keys.model),
  ]);
  if (
    request === undefined &&
    state === undefined &&
    progress === undefined &&
    !hasModel &&
    !(await objectExists(clients, bucket, keys.log))
  ) {
    throw runNotFound(runId, bucket);
  }
  const req = RunRequestSchema.safeParse(parseJson(request));
  let verifySummary: VerifySummary | undefined;
  if (verify !== undefined) {
    try {
      verifySummary = parseVerify(verify, `s3://${bucket}/${keys.verify}`);
    } catch {
      verifySummary = undefined;
    }
  }
  const resultJson = parseJson(result);
  return {
    runId,
    request: req.success ? req.data : undefined,
    status: parseRunStatus(state),
    progress: parseProgress(progress ?? ''),
    result:
      resultJson && typeof resultJson === 'object' ? (resultJson as Record<string, unknown>) : undefined,
    verify: verifySummary,
    hasModel,
  };
}

/** Run ids in the bucket, newest first (ids start with their UTC start time). */
export async function listRunIds(clients: CloudClients, bucket: string): Promise<string[]> {
  const ids = await listFolders(clients, bucket, RUNS_ROOT_PREFIX);
  return ids.filter((id) => RUN_ID_PATTERN.test(id)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}
