import { at } from '../../lib/defined';
import {
  batchGlobMatches,
  evaluateRetry,
  type RetryRule,
  SWEEP_JOB_ATTEMPTS,
  SWEEP_RETRY_RULES,
  willRetry,
} from '../../lib/sweep/retry';

const rules = SWEEP_RETRY_RULES;
/** What Batch reports for an attempt whose instance was reclaimed (status reason, no container exit code). */
const reclaim = { statusReason: 'Host EC2 (instance i-0123456789abcdef0) terminated.' };
const exited = (code: number) => ({ exitCode: code, statusReason: 'Essential container in task exited' });

describe("Batch's glob matching", () => {
  test.each([
    ['2', '2', true],
    ['2', '20', false],
    ['2', '12', false],
    ['14*', '143', true],
    ['*', '0', true],
    ['Host EC2*', 'Host EC2 (instance i-1) terminated.', true],
    ['Host EC2*', 'host ec2 (instance i-1) terminated.', false],
    ['Host EC2', 'Host EC2 (instance i-1) terminated.', false],
  ])('%s vs %s → %s', (pattern, value, expected) => {
    expect(batchGlobMatches(pattern, value)).toBe(expected);
  });
  test('a condition on a value the attempt does not have never matches', () => {
    expect(batchGlobMatches('*', undefined)).toBe(false);
  });
});

describe('the sweep job rules, as Batch applies them', () => {
  test('a Spot reclaim (no exit code) is retried by the Host EC2* rule', () => {
    expect(evaluateRetry(rules, reclaim)).toEqual({ action: 'RETRY', rule: 1 });
  });
  test('exit 143 (stopped with its checkpoint) is retried', () => {
    expect(evaluateRetry(rules, exited(143))).toEqual({ action: 'RETRY', rule: 2 });
  });
  test.each([1, 3, 70, 137, 139, 255])('a crash (exit %i) is retried by the catch-all', (code) => {
    expect(evaluateRetry(rules, exited(code))).toEqual({ action: 'RETRY', rule: 3 });
  });
  test('exit 2 (failed for good) is never retried, even after a host message', () => {
    expect(evaluateRetry(rules, exited(2))).toEqual({ action: 'EXIT', rule: 0 });
    expect(evaluateRetry(rules, { ...reclaim, exitCode: 2 })).toEqual({ action: 'EXIT', rule: 0 });
    for (let attempt = 1; attempt <= SWEEP_JOB_ATTEMPTS; attempt++) {
      expect(willRetry(rules, exited(2), attempt)).toBe(false);
    }
  });
  test('exit codes that merely start with 2 are crashes, not bad input', () => {
    for (const code of [20, 21, 200, 255]) expect(evaluateRetry(rules, exited(code)).action).toBe('RETRY');
  });
  test('no exit code and not a host termination (image pull failure) exits instead of looping', () => {
    expect(
      evaluateRetry(rules, {
        reason: 'CannotPullContainerError: pull access denied',
        statusReason: 'Task failed to start',
      }),
    ).toEqual({ action: 'EXIT', rule: 4 });
  });
  test('the last attempt is not followed by another, whatever the rule says', () => {
    expect(willRetry(rules, exited(143), SWEEP_JOB_ATTEMPTS - 1)).toBe(true);
    expect(willRetry(rules, exited(143), SWEEP_JOB_ATTEMPTS)).toBe(false);
  });
});

describe('order matters (first match wins)', () => {
  test('with the catch-all first, exit 2 would be retried', () => {
    const wrong: RetryRule[] = [3, 0, 1, 2, 4].map((k) => at(rules, k, 'the retry rules'));
    expect(evaluateRetry(wrong, exited(2)).action).toBe('RETRY');
  });
  test('with no rule matching, Batch retries', () => {
    expect(evaluateRetry([{ action: 'EXIT', onExitCode: '2', why: '' }], exited(1))).toEqual({
      action: 'RETRY',
    });
  });
  test('more than 5 rules is refused, as Batch refuses it', () => {
    expect(() => evaluateRetry([...rules, at(rules, 0, 'the retry rules')], exited(1))).toThrow(/at most 5/);
  });
});
