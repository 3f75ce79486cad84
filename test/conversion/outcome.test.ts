import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConversionOutcome } from '../../lib/cloud/conversion-outcome';
import { ConversionRefused } from '../../lib/conversion/job';
import { CHECK_OUTCOME_SCRIPT } from '../../lib/conversion/outcome';
import { answerRefusals } from '../../lib/lambda/convert-handler';
import {
  LAMBDA_TIMEOUT,
  REFUSED,
  REFUSED_UNDER_OLD_DOCUMENT,
  STEP_TIMEOUT,
  SUCCESS,
  SUMMARY,
  UNHANDLED,
} from './automation-fixtures';

describe('the conversion outcome, read from the convert step of GetAutomationExecution', () => {
  test('success: the Lambda summary', () => {
    expect(parseConversionOutcome(SUCCESS)).toEqual({ kind: 'converted', summary: SUMMARY });
  });

  test('a handled refusal: the refusal, whatever the overall status says', () => {
    const refused = {
      kind: 'refused',
      message: expect.stringMatching(
        /^params of run .* verify at 31\.20 % on the mnist test set, below the floor of 50 %: refused to publish/,
      ),
    };
    expect(parseConversionOutcome(REFUSED)).toEqual(refused);
    // The status-only reading this replaces would have called this one published.
    expect(REFUSED_UNDER_OLD_DOCUMENT.AutomationExecutionStatus).toBe('Success');
    expect(parseConversionOutcome(REFUSED_UNDER_OLD_DOCUMENT)).toEqual(refused);
  });

  test('an unhandled exception (FunctionError Unhandled): its type and message', () => {
    expect(parseConversionOutcome(UNHANDLED)).toEqual({
      kind: 'crashed',
      errorType: 'TypeError',
      message: "Cannot read properties of undefined (reading 'shape')",
    });
    // Even under a Success status (Automation need not fail the step on a function error).
    expect(parseConversionOutcome({ ...UNHANDLED, AutomationExecutionStatus: 'Success' }).kind).toBe(
      'crashed',
    );
  });

  test('timeouts: the Lambda\'s "Task timed out" (both payload forms) and the step\'s TimedOut', () => {
    expect(parseConversionOutcome(LAMBDA_TIMEOUT)).toEqual({
      kind: 'timed-out',
      message: expect.stringContaining('Task timed out after 240.00 seconds'),
    });
    const legacy = structuredClone(LAMBDA_TIMEOUT);
    const steps = legacy.StepExecutions ?? [];
    if (steps[0]?.Outputs)
      steps[0].Outputs.Payload = [
        '{"errorMessage":"2026-12-01T10:24:00.000Z 0f1e2d3c Task timed out after 240.00 seconds"}',
      ];
    expect(parseConversionOutcome(legacy).kind).toBe('timed-out');
    expect(parseConversionOutcome(STEP_TIMEOUT)).toEqual({
      kind: 'timed-out',
      message:
        'step convert timed out (Step timed out while step is verifying the Lambda function response.)',
    });
  });

  test('no payload at all: never "converted"; a failed step is named with its message', () => {
    expect(parseConversionOutcome({ AutomationExecutionStatus: 'Success', StepExecutions: [] })).toEqual({
      kind: 'failed',
      status: 'Success',
      step: undefined,
      message: 'the automation succeeded but recorded no Lambda payload',
    });
    expect(
      parseConversionOutcome({
        AutomationExecutionStatus: 'Failed',
        StepExecutions: [
          {
            StepName: 'convert',
            Action: 'aws:invokeLambdaFunction',
            StepStatus: 'Failed',
            FailureMessage:
              'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: lambda:InvokeFunction',
          },
        ],
      }),
    ).toEqual({
      kind: 'failed',
      status: 'Failed',
      step: 'convert',
      message: 'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: lambda:InvokeFunction',
    });
  });
});

describe("the document's checkOutcome script, run by python3 on each Lambda answer", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'check-outcome-'));
  const script = path.join(dir, 'check.py');
  writeFileSync(
    script,
    `${CHECK_OUTCOME_SCRIPT}\nimport sys\ntry:\n    print(json.dumps(check({"payload": sys.stdin.read()}, None)))\nexcept Exception as e:\n    print("FAILED: %s" % e)\n    sys.exit(1)\n`,
  );
  const run = (payload: string) => {
    try {
      return {
        status: 0,
        out: execFileSync('python3', [script], { input: payload, encoding: 'utf8' }).trim(),
      };
    } catch (err) {
      const e = err as { status: number; stdout: string };
      return { status: e.status, out: e.stdout.trim() };
    }
  };
  const payloadOf = (ex: typeof SUCCESS) => ex.StepExecutions?.[0]?.Outputs?.Payload?.[0] ?? '';

  test('passes the summary', () => {
    expect(run(payloadOf(SUCCESS))).toEqual({
      status: 0,
      out: '{"outcome": "converted", "published": true}',
    });
  });
  test('fails on a refusal, with its reason', () => {
    expect(run(payloadOf(REFUSED))).toEqual({
      status: 1,
      out: expect.stringMatching(
        /^FAILED: conversion refused: params of run .* below the floor of 50 %: refused to publish/,
      ),
    });
  });
  test('fails on a function-error payload and on a timeout', () => {
    expect(run(payloadOf(UNHANDLED))).toEqual({
      status: 1,
      out: "FAILED: conversion Lambda failed: TypeError: Cannot read properties of undefined (reading 'shape')",
    });
    expect(run(payloadOf(LAMBDA_TIMEOUT)).out).toMatch(
      /^FAILED: conversion Lambda failed: Sandbox.Timedout: .*Task timed out/,
    );
  });
  test('fails on no JSON object', () => {
    expect(run('')).toEqual({ status: 1, out: 'FAILED: conversion Lambda returned no JSON summary:' });
    expect(run('"ok"').out).toBe('FAILED: conversion Lambda returned no summary object: "ok"');
  });
});

describe("the Lambda's answer", () => {
  test('a refusal is answered (no function error); a fault is thrown (a function error)', async () => {
    const refuse = answerRefusals(async () => {
      throw new ConversionRefused('accuracy 31.2 % is below the floor 50 %');
    });
    await expect(refuse({ runId: 'r1' })).resolves.toEqual({
      outcome: 'refused',
      runId: 'r1',
      refusal: 'accuracy 31.2 % is below the floor 50 %',
    });
    const crash = answerRefusals(async () => {
      throw new TypeError('boom');
    });
    await expect(crash({ runId: 'r1' })).rejects.toThrow(TypeError);
    const ok = answerRefusals(async () => ({ ...SUMMARY, outcome: undefined }) as never);
    await expect(ok({})).resolves.toMatchObject({ outcome: 'converted', runId: SUMMARY.runId });
  });
});
