/**
 * What a finished `convert` automation actually did, from GetAutomationExecution: the
 * `aws:invokeLambdaFunction` step's outputs (Payload, FunctionError, StatusCode) decide, not the overall
 * status alone. A Lambda that refused or crashed can leave an execution whose status says Success (an
 * older document, or Automation not failing the step on a function error: AWS does not document that);
 * this reads the Lambda's own answer. Pure: no AWS calls.
 */
import type { AutomationExecution, StepExecution } from '@aws-sdk/client-ssm';
import { CONVERT_STEP_NAME } from '../conversion/outcome';

export type ConversionOutcome =
  /** The Lambda returned its summary: params written (and published unless publish=false). */
  | { kind: 'converted'; summary: Record<string, unknown> }
  /** The Lambda returned a refusal (bad npz, missing input, accuracy below the floor): nothing published. */
  | { kind: 'refused'; message: string }
  /** The Lambda threw (FunctionError): a bug or an AWS-side failure; nothing published. */
  | { kind: 'crashed'; errorType: string; message: string }
  /** The Lambda or the step ran out of time; nothing published. */
  | { kind: 'timed-out'; message: string }
  /** The automation failed before or around the Lambda (permissions, throttling, cancelled, ...). */
  | { kind: 'failed'; status: string; step?: string; message: string };

const first = (step: StepExecution | undefined, key: string): string | undefined => step?.Outputs?.[key]?.[0];
const oneLine = (s: string, max = 600): string => s.replace(/\s+/g, ' ').trim().slice(0, max);
const TIMEOUT = /Task timed out after [\d.]+ seconds|Sandbox\.Timedout/i;

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function parseConversionOutcome(execution: AutomationExecution | undefined): ConversionOutcome {
  const status = execution?.AutomationExecutionStatus ?? 'Unknown';
  const steps = execution?.StepExecutions ?? [];
  const invoke =
    steps.find((s) => s.StepName === CONVERT_STEP_NAME) ??
    steps.find((s) => s.Action === 'aws:invokeLambdaFunction');
  const payloadText = first(invoke, 'Payload');
  const payload = parseJson(payloadText);
  const functionError = first(invoke, 'FunctionError');
  const body =
    payload && typeof payload === 'object' && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;

  // 1. The Lambda's own answer, when the step recorded one.
  if (functionError || (body && typeof body.errorMessage === 'string')) {
    const message = oneLine(String(body?.errorMessage ?? payloadText ?? functionError ?? ''));
    const errorType = String(body?.errorType ?? functionError ?? 'Error');
    if (TIMEOUT.test(message) || TIMEOUT.test(errorType))
      return { kind: 'timed-out', message: `the Lambda timed out (${message})` };
    if (errorType === 'ConversionRefused') return { kind: 'refused', message };
    return { kind: 'crashed', errorType, message };
  }
  if (body?.outcome === 'refused') {
    return { kind: 'refused', message: oneLine(String(body.refusal ?? 'refused (no reason given)')) };
  }
  if (body && status === 'Success') return { kind: 'converted', summary: body };

  // 2. No usable payload: the failed or timed-out step says what happened.
  const failed =
    steps.find((s) => s.StepStatus === 'TimedOut') ??
    steps.find((s) => s.StepStatus === 'Failed' || s.StepStatus === 'Cancelled');
  const failure = oneLine(
    execution?.FailureMessage ??
      failed?.FailureMessage ??
      failed?.FailureDetails?.Details?.ErrorMessage?.[0] ??
      '',
  );
  if (failed?.StepStatus === 'TimedOut' || status === 'TimedOut' || TIMEOUT.test(failure)) {
    return {
      kind: 'timed-out',
      message: `step ${failed?.StepName ?? '?'} timed out${failure ? ` (${failure})` : ''}`,
    };
  }
  if (status === 'Success') {
    // Success with no Lambda payload at all: never report that as converted.
    return {
      kind: 'failed',
      status,
      step: invoke?.StepName,
      message: 'the automation succeeded but recorded no Lambda payload',
    };
  }
  return {
    kind: 'failed',
    status,
    step: failed?.StepName,
    message: failure || `the automation ended ${status}`,
  };
}
