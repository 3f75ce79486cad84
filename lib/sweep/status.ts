/**
 * A sweep run's state, reconciled from what the run wrote (runs/<runId>/state.json, progress.jsonl) and what
 * Batch says about its job (status, attempts), its best validation error under the board rule, and the cost
 * so far (an estimate). Pure: the CLI reads, this decides.
 */
import type { RunState } from '../layout';
import type { ProgressLog } from '../report/progress';
import type { Market } from './record';

/**
 * Estimated hourly price of the instance a job lands on (g4dn.xlarge, us-east-1, late 2026): what `sweep status`
 * multiplies run time by. An ESTIMATE (larger types and other regions cost more; Spot prices move): the bill is
 * the truth, see docs/sweeps.md.
 */
export const ESTIMATED_USD_PER_HOUR: Record<Market, number> = { spot: 0.21, 'on-demand': 0.526 };

/** The Batch job fields the reconciliation reads (a subset of DescribeJobs' JobDetail). */
export interface BatchJobView {
  status?: string;
  statusReason?: string;
  startedAt?: number;
  stoppedAt?: number;
  attempts?: {
    startedAt?: number;
    stoppedAt?: number;
    statusReason?: string;
    container?: { exitCode?: number; reason?: string };
  }[];
}

export interface RunView {
  state?: RunState | 'unknown';
  stateDetail?: string;
  progress: ProgressLog;
}

export type SweepRunState =
  | 'succeeded'
  | 'failed'
  | 'running'
  | 'queued'
  | 'retrying'
  | 'stopped'
  | 'cancelled'
  | 'not submitted';

export interface SweepRunStatus {
  state: SweepRunState;
  /** Why, in a few words (Batch's reason, the run's message). */
  detail?: string;
  epoch?: number;
  /** Epochs of the run, as progress.jsonl records them. */
  epochs?: number;
  /** The lowest validation error under the board rule over the finished epochs (percent). */
  bestValidBoard?: number;
  bestEpoch?: number;
  /** Attempts started (Batch counts a Spot reclaim as one). */
  attempts: number;
  /** Estimated dollars so far. */
  costUsd: number;
}

/** The best epoch by validation error under the board rule (never test error); undefined without board values. */
export function bestByBoardValidation(progress: ProgressLog): { error: number; epoch: number } | undefined {
  let best: { error: number; epoch: number } | undefined;
  for (const p of progress.points) {
    const v = p.validError.board;
    if (v !== undefined && (best === undefined || v < best.error)) best = { error: v, epoch: p.epoch };
  }
  return best;
}

const CANCELLED = /cancel|terminat(ed|e) by|by user|bnn-pynq sweep cancel/i;

export function reconcile(
  job: BatchJobView | undefined,
  run: RunView,
  market: Market,
  now: number,
): SweepRunStatus {
  const best = bestByBoardValidation(run.progress);
  const attemptsDone = job?.attempts ?? [];
  const active = job?.status === 'RUNNING' || job?.status === 'STARTING';
  const seconds =
    attemptsDone.reduce(
      (s, a) => s + (a.startedAt && a.stoppedAt ? (a.stoppedAt - a.startedAt) / 1000 : 0),
      0,
    ) + (active && job?.startedAt ? Math.max(0, now - job.startedAt) / 1000 : 0);
  const base = {
    epoch: run.progress.points.at(-1)?.epoch,
    epochs: run.progress.points.at(-1)?.epochs,
    bestValidBoard: best?.error,
    bestEpoch: best?.epoch,
    attempts: attemptsDone.length + (active ? 1 : 0),
    costUsd: (seconds / 3600) * ESTIMATED_USD_PER_HOUR[market],
  };
  const lastAttempt = attemptsDone.at(-1);
  const lastReason = lastAttempt
    ? [
        lastAttempt.statusReason,
        lastAttempt.container?.exitCode !== undefined ? `exit ${lastAttempt.container.exitCode}` : '',
      ]
        .filter(Boolean)
        .join(', ')
    : undefined;
  if (!job) return { ...base, state: 'not submitted' };
  switch (job.status) {
    case 'SUCCEEDED':
      return run.state === 'succeeded'
        ? { ...base, state: 'succeeded' }
        : {
            ...base,
            state: 'succeeded',
            detail: `Batch says succeeded, state.json says ${run.state ?? 'nothing'}`,
          };
    case 'FAILED': {
      if (CANCELLED.test(job.statusReason ?? ''))
        return { ...base, state: 'cancelled', detail: job.statusReason };
      if (run.state === 'failed') return { ...base, state: 'failed', detail: run.stateDetail };
      if (run.state === 'stopped')
        return { ...base, state: 'stopped', detail: `no attempts left (${lastReason ?? job.statusReason})` };
      // Failed without the run saying so: never started (stuck in RUNNABLE, cancelled by the queue) or lost its host.
      return { ...base, state: 'failed', detail: job.statusReason ?? lastReason };
    }
    case 'RUNNING':
    case 'STARTING':
      return { ...base, state: 'running', detail: run.stateDetail };
    default:
      // SUBMITTED, PENDING, RUNNABLE: waiting for an instance; after a failed attempt, waiting to retry.
      return attemptsDone.length > 0
        ? { ...base, state: 'retrying', detail: `attempt ${attemptsDone.length} ended: ${lastReason}` }
        : { ...base, state: 'queued', detail: job.status };
  }
}

/**
 * The best finished run: the lowest board-rule validation error among succeeded runs, ties to the lower index.
 * Test error never takes part (choosing by it would make the test set a validation set).
 */
export function chooseBest<T extends { index: number; status: SweepRunStatus }>(
  runs: readonly T[],
): T | undefined {
  let best: T | undefined;
  for (const r of runs) {
    if (r.status.state !== 'succeeded' || r.status.bestValidBoard === undefined) continue;
    if (!best || r.status.bestValidBoard < (best.status.bestValidBoard as number)) best = r;
  }
  return best;
}
