/**
 * What a sweep writes to S3 (docs/sweeps.md): `sweeps/<sweepId>/sweep.json` (the grid, the Batch job, and the run
 * id of every array index, read by scripts/instance/batch/entrypoint.sh) and each run's ordinary
 * `runs/<runId>/run.json`, in the shape the `train` document writes (scripts/instance/ssm/train.sh) plus
 * `sweepId` and `sweepIndex`. Pure: the CLI does the writing.
 */
import { z } from 'zod';
import { trainingParameter } from '../training/parameters';
import type { GridAxis, PlannedRun, RunParameters } from './grid';

export type Market = 'spot' | 'on-demand';

export interface SweepRecord {
  sweepId: string;
  createdAt: string;
  /** The grid as given (key order = expansion order). */
  grid: GridAxis[];
  /** Options that apply to every run. */
  fixed: Partial<RunParameters>;
  market: Market;
  /** The image the job runs (`<repository>:<asset hash>`). */
  image: string;
  jobQueue: string;
  jobDefinition: string;
  /** The Batch (array) job; absent until SubmitJob answered. */
  jobId?: string;
  jobName: string;
  /** Set by `sweep cancel`. */
  cancelledAt?: string;
  runs: { index: number; runId: string; parameters: RunParameters }[];
}

const recordSchema = z.object({
  sweepId: z.string(),
  createdAt: z.string(),
  grid: z.array(z.object({ key: z.string(), values: z.array(z.string()) })),
  fixed: z.record(z.string(), z.string()),
  market: z.enum(['spot', 'on-demand']),
  image: z.string(),
  jobQueue: z.string(),
  jobDefinition: z.string(),
  jobId: z.string().optional(),
  jobName: z.string(),
  cancelledAt: z.string().optional(),
  runs: z.array(
    z.object({ index: z.number().int(), runId: z.string(), parameters: z.record(z.string(), z.string()) }),
  ),
});

/** Parses sweep.json; the message says what is wrong (the caller names the object). */
export function parseSweepRecord(text: string): SweepRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`does not look like a sweep record (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return parsed.data as unknown as SweepRecord;
}

/**
 * run.json of one sweep run, as train.sh writes it: every table parameter under its name, typed as the table says
 * ('' → null: the network's own value, chosen by bnn_train), keepRunning false (no instance to keep), plus the sweep.
 */
export function sweepRunRequest(
  run: PlannedRun,
  sweepId: string,
  requestedAt: string,
): Record<string, unknown> {
  const typed = (name: string, value: string): unknown => {
    if (value === '') return null;
    const type = trainingParameter(name).type;
    return type === 'integer' || type === 'number'
      ? Number(value)
      : type === 'boolean'
        ? value === 'true'
        : value;
  };
  return {
    runId: run.runId,
    ...Object.fromEntries(Object.entries(run.parameters).map(([k, v]) => [k, typed(k, v)])),
    keepRunning: false,
    requestedAt,
    sweepId,
    sweepIndex: run.index,
  };
}
