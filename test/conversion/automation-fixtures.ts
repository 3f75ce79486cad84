/**
 * GetAutomationExecution responses of the `convert` automation, in the shapes SSM returns them: step
 * Inputs are JSON-encoded strings, Outputs are lists of strings, the Lambda's Payload is its JSON answer.
 */
import type { AutomationExecution, StepExecution } from '@aws-sdk/client-ssm';

const RUN = '20261201-101500-mnist-a1b2';
const started = new Date('2026-12-01T10:20:00.000Z');
const ended = new Date('2026-12-01T10:21:10.000Z');

const invokeStep = (over: Partial<StepExecution>): StepExecution => ({
  StepName: 'convert',
  Action: 'aws:invokeLambdaFunction',
  TimeoutSeconds: 300,
  OnFailure: 'Abort',
  MaxAttempts: 1,
  ExecutionStartTime: started,
  ExecutionEndTime: ended,
  StepStatus: 'Success',
  Inputs: {
    FunctionName: '"BnnPynq-ConversionFunction1A2B3C-abcdef"',
    InputPayload: `{"runId":"${RUN}","dataset":"","network":"lfcW1A1","publish":"true"}`,
    InvocationType: '"RequestResponse"',
  },
  StepExecutionId: '11111111-2222-3333-4444-555555555555',
  NextStep: 'checkOutcome',
  IsEnd: false,
  IsCritical: true,
  ...over,
});

const checkStep = (over: Partial<StepExecution>): StepExecution => ({
  StepName: 'checkOutcome',
  Action: 'aws:executeScript',
  TimeoutSeconds: 60,
  OnFailure: 'Abort',
  MaxAttempts: 1,
  ExecutionStartTime: ended,
  ExecutionEndTime: ended,
  StepStatus: 'Success',
  StepExecutionId: '66666666-2222-3333-4444-555555555555',
  IsEnd: true,
  IsCritical: true,
  ...over,
});

const execution = (
  status: AutomationExecution['AutomationExecutionStatus'],
  steps: StepExecution[],
  over: Partial<AutomationExecution> = {},
): AutomationExecution => ({
  AutomationExecutionId: 'a1b2c3d4-0000-1111-2222-333333333333',
  DocumentName: 'BnnPynq-ConversionDocument-XYZ',
  DocumentVersion: '1',
  ExecutionStartTime: started,
  ExecutionEndTime: ended,
  AutomationExecutionStatus: status,
  StepExecutions: steps,
  Mode: 'Auto',
  ...over,
});

export const SUMMARY = {
  outcome: 'converted',
  runId: RUN,
  dataset: 'mnist',
  network: 'lfcW1A1',
  accuracy: 98.4,
  minAccuracyPercent: 50,
  published: true,
  note: 'published',
  runParams: `s3://artifacts/runs/${RUN}/params/mnist/lfcW1A1/`,
  verifyReport: `s3://artifacts/runs/${RUN}/verify.json`,
  publishedParams: 's3://artifacts/params/mnist/lfcW1A1/',
  publishedChanges: { written: 290, deleted: 0, manifestWritten: true },
};

const REFUSAL = `params of run ${RUN} verify at 31.20 % on the mnist test set, below the floor of 50 %: refused to publish. The previous published params are untouched`;

/** 1. Converted and published. */
export const SUCCESS = execution(
  'Success',
  [
    invokeStep({ Outputs: { Payload: [JSON.stringify(SUMMARY)], StatusCode: ['200'] } }),
    checkStep({ Outputs: { OutputPayload: ['{"Payload":{"outcome":"converted","published":true}}'] } }),
  ],
  { Outputs: { 'convert.Payload': [JSON.stringify(SUMMARY)] } },
);

/** 2. A handled refusal: the Lambda answered `outcome: refused`; the check step failed the execution. */
export const REFUSED = execution(
  'Failed',
  [
    invokeStep({
      Outputs: {
        Payload: [JSON.stringify({ outcome: 'refused', runId: RUN, refusal: REFUSAL })],
        StatusCode: ['200'],
      },
    }),
    checkStep({
      StepStatus: 'Failed',
      FailureMessage: `Step fails when it is Execution. Fail to run the script: Traceback (most recent call last):\n  File "/tmp/script.py", line 15, in check\nException: conversion refused: ${REFUSAL}`,
      FailureDetails: {
        FailureStage: 'Execution',
        FailureType: 'Verification',
        Details: { ErrorMessage: [`conversion refused: ${REFUSAL}`] },
      },
    }),
  ],
  { FailureMessage: `Step fails when it is Execution. Exception: conversion refused: ${REFUSAL}` },
);

/** The same refusal under the one-step document of earlier deploys: status Success, refusal only in the payload. */
export const REFUSED_UNDER_OLD_DOCUMENT = execution('Success', [
  invokeStep({
    NextStep: undefined,
    IsEnd: true,
    Outputs: {
      Payload: [JSON.stringify({ outcome: 'refused', runId: RUN, refusal: REFUSAL })],
      StatusCode: ['200'],
    },
  }),
]);

/** 3. An unhandled exception: Lambda's FunctionError "Unhandled" and its error object as the payload. */
export const UNHANDLED = execution('Failed', [
  invokeStep({
    Outputs: {
      Payload: [
        JSON.stringify({
          errorType: 'TypeError',
          errorMessage: "Cannot read properties of undefined (reading 'shape')",
          trace: [
            "TypeError: Cannot read properties of undefined (reading 'shape')",
            '    at loadLfcModel (/var/task/index.js:1:2345)',
          ],
        }),
      ],
      StatusCode: ['200'],
      FunctionError: ['Unhandled'],
    },
  }),
  checkStep({
    StepStatus: 'Failed',
    FailureMessage:
      "Step fails when it is Execution. Exception: conversion Lambda failed: TypeError: Cannot read properties of undefined (reading 'shape')",
  }),
]);

/** 4a. The Lambda's own timeout (240 s): FunctionError with Lambda's "Task timed out" payload. */
export const LAMBDA_TIMEOUT = execution('Failed', [
  invokeStep({
    Outputs: {
      Payload: [
        '{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 0f1e2d3c-aaaa-bbbb-cccc-123456789abc Error: Task timed out after 240.00 seconds"}',
      ],
      StatusCode: ['200'],
      FunctionError: ['Unhandled'],
    },
  }),
  checkStep({
    StepStatus: 'Failed',
    FailureMessage:
      'Step fails when it is Execution. Exception: conversion Lambda failed: Sandbox.Timedout: ...',
  }),
]);

/** 4b. The step's timeout (300 s): StepStatus TimedOut, no outputs. */
export const STEP_TIMEOUT = execution('TimedOut', [
  invokeStep({
    StepStatus: 'TimedOut',
    FailureMessage: 'Step timed out while step is verifying the Lambda function response.',
    FailureDetails: { FailureStage: 'Execution', FailureType: 'Verification' },
  }),
]);
