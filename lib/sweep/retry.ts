/**
 * The Batch job definition's retry rules (`retryStrategy.evaluateOnExit`), as data, and an evaluator that follows
 * AWS Batch's documented matching, so the rules are tested as Batch applies them:
 *   - up to 5 rules, evaluated in order; the FIRST rule whose conditions all match decides (RETRY or EXIT);
 *   - a condition is a glob on the decimal exit code (`onExitCode`), the container's reason (`onReason`) or the
 *     attempt's status reason (`onStatusReason`): an exact match, or, with a trailing `*`, a prefix match;
 *   - a rule with a condition on a value the attempt does not have (no exit code after a host termination) does
 *     not match;
 *   - when no rule matches, Batch retries (while attempts remain); a final rule therefore says what happens to
 *     everything else.
 * (docs.aws.amazon.com/batch/latest/userguide/job_retries.html, APIReference/API_EvaluateOnExit.html)
 *
 * The exit codes come from run-training.sh in Batch mode (docs/sweeps.md has the table):
 *   0 succeeded · 2 failed for good (bad input, or gave up) · 143 stopped with its checkpoint · other = crash.
 */

export type RetryAction = 'RETRY' | 'EXIT';

export interface RetryRule {
  readonly action: RetryAction;
  readonly onExitCode?: string;
  readonly onReason?: string;
  readonly onStatusReason?: string;
  /** Why the rule exists (not sent to Batch). */
  readonly why: string;
}

/** Attempts of one array child (Batch allows 1–10): Spot reclaims and crashes share them. */
export const SWEEP_JOB_ATTEMPTS = 10;

/** Batch's status reason when the instance under a job went away (Spot reclaim, instance failure). */
export const HOST_TERMINATED_REASON = 'Host EC2*';

/** Order matters: exit 2 is refused before the catch-all that retries crashes. */
export const SWEEP_RETRY_RULES: readonly RetryRule[] = [
  {
    action: 'EXIT',
    onExitCode: '2',
    why: 'failed for good (bad input, or out of attempts): retrying repeats it',
  },
  {
    action: 'RETRY',
    onStatusReason: HOST_TERMINATED_REASON,
    why: 'Spot reclaim or instance failure: the run resumes from its S3 checkpoint on another instance',
  },
  { action: 'RETRY', onExitCode: '143', why: 'stopped (SIGTERM) after saving its checkpoint: resume' },
  { action: 'RETRY', onExitCode: '*', why: 'a crash (any other exit code): resume from the last checkpoint' },
  {
    action: 'EXIT',
    onStatusReason: '*',
    why: 'anything without an exit code that is not a host termination (image pull, cancel): do not loop',
  },
];

/** What one failed attempt looks like to Batch. */
export interface AttemptOutcome {
  exitCode?: number;
  reason?: string;
  statusReason?: string;
}

/** Batch's glob: an exact match, or a prefix match when the pattern ends with `*`. */
export function batchGlobMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

export interface RetryDecision {
  action: RetryAction;
  /** Index of the deciding rule; undefined when none matched (Batch's default: retry). */
  rule?: number;
}

/** The action Batch takes for a failed attempt (before counting attempts). */
export function evaluateRetry(rules: readonly RetryRule[], outcome: AttemptOutcome): RetryDecision {
  if (rules.length > 5) throw new Error(`Batch accepts at most 5 evaluateOnExit rules, got ${rules.length}`);
  const exitCode = outcome.exitCode === undefined ? undefined : String(outcome.exitCode);
  for (const [i, rule] of rules.entries()) {
    const conditions: [string | undefined, string | undefined][] = [
      [rule.onExitCode, exitCode],
      [rule.onReason, outcome.reason],
      [rule.onStatusReason, outcome.statusReason],
    ];
    if (conditions.every(([pattern, value]) => pattern === undefined || batchGlobMatches(pattern, value))) {
      return { action: rule.action, rule: i };
    }
  }
  return { action: 'RETRY' };
}

/** Whether Batch starts another attempt after `attempt` (1-based) ended this way. */
export function willRetry(rules: readonly RetryRule[], outcome: AttemptOutcome, attempt: number): boolean {
  return attempt < SWEEP_JOB_ATTEMPTS && evaluateRetry(rules, outcome).action === 'RETRY';
}
