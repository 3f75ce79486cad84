import {
  type AutomationExecution,
  GetAutomationExecutionCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { CONVERT_AUTOMATION_PARAMETERS, TRAIN_DOCUMENT_PARAMETERS } from '../layout';
import { aws, awsErrorName, CloudError } from './aws-errors';
import type { CloudClients } from './clients';
import type { StackResources } from './discovery';
import { type Clock, realClock } from './instance';

export type TrainParameters = Partial<Record<(typeof TRAIN_DOCUMENT_PARAMETERS)[number], string>> & {
  runId: string;
  dataset: string;
};

/**
 * Sends the stack's `train` Command document to the instance. Only the parameters the user set are
 * sent; the document's own defaults fill the rest (one place for the defaults: the document).
 */
export async function sendTrainCommand(
  clients: CloudClients,
  stack: StackResources,
  parameters: TrainParameters,
): Promise<string> {
  const params: Record<string, string[]> = {};
  for (const name of TRAIN_DOCUMENT_PARAMETERS) {
    const v = parameters[name];
    if (v !== undefined) params[name] = [v];
  }
  const out = await aws('ssm:SendCommand', () =>
    clients.ssm.send(
      new SendCommandCommand({
        DocumentName: stack.trainDocument,
        InstanceIds: [stack.instanceId],
        Parameters: params,
        Comment: `bnn-pynq train ${parameters.runId}`.slice(0, 100),
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: stack.logGroup },
      }),
    ),
  ).catch((err: CloudError) => {
    if (/InvalidInstanceId/.test(err.message)) throw agentOfflineError(stack.instanceId, err);
    if (/InvalidDocument\b/.test(err.message)) {
      throw new CloudError(
        'stack-not-deployed',
        `the stack's train document ${stack.trainDocument} does not exist: run \`npx cdk deploy\` again`,
        err,
      );
    }
    if (/InvalidParameters/.test(err.message)) {
      throw new CloudError('failed', `the train document refused the parameters: ${err.message}`, err);
    }
    throw err;
  });
  const id = out.Command?.CommandId;
  if (!id) throw new CloudError('failed', 'ssm:SendCommand returned no command id');
  return id;
}

export const agentOfflineError = (instanceId: string, cause?: unknown) =>
  new CloudError(
    'agent-offline',
    `the SSM agent on instance ${instanceId} is not online (instance stopped, still booting, or agent down): run \`bnn-pynq start\` and retry; \`bnn-pynq status\` shows what it is waiting for`,
    cause,
  );

export interface InvocationResult {
  status: string;
  stdout: string;
  stderr: string;
}

const TERMINAL_COMMAND = ['Success', 'Failed', 'Cancelled', 'TimedOut', 'Undeliverable', 'Terminated'];

/**
 * Waits for a command invocation to end. Right after SendCommand the invocation may not exist yet
 * (InvocationDoesNotExist): that is retried, not reported.
 */
export async function waitForCommand(
  clients: CloudClients,
  commandId: string,
  instanceId: string,
  options: { clock?: Clock; timeoutMs?: number; pollMs?: number } = {},
): Promise<InvocationResult> {
  const clock = options.clock ?? realClock;
  const deadline = clock.now() + (options.timeoutMs ?? 5 * 60_000);
  for (;;) {
    let status = 'Pending';
    try {
      const out = await clients.ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
      status = out.Status ?? 'Pending';
      if (TERMINAL_COMMAND.includes(status)) {
        return {
          status,
          stdout: out.StandardOutputContent ?? '',
          stderr: out.StandardErrorContent ?? '',
        };
      }
    } catch (err) {
      if (awsErrorName(err) !== 'InvocationDoesNotExist') {
        await aws('ssm:GetCommandInvocation', () => Promise.reject(err));
      }
    }
    if (clock.now() >= deadline) {
      throw new CloudError(
        'timeout',
        `command ${commandId} is still ${status} on ${instanceId}: check it with \`aws ssm list-command-invocations --command-id ${commandId} --details\``,
      );
    }
    await clock.sleep(options.pollMs ?? 2_000);
  }
}

export type ConvertParameters = Record<(typeof CONVERT_AUTOMATION_PARAMETERS)[number], string>;

export async function startConvertAutomation(
  clients: CloudClients,
  stack: StackResources,
  parameters: ConvertParameters,
): Promise<string> {
  const params: Record<string, string[]> = {};
  for (const name of CONVERT_AUTOMATION_PARAMETERS) params[name] = [parameters[name]];
  const out = await aws('ssm:StartAutomationExecution', () =>
    clients.ssm.send(
      new StartAutomationExecutionCommand({ DocumentName: stack.convertDocument, Parameters: params }),
    ),
  ).catch((err: CloudError) => {
    if (/AutomationDefinitionNotFound|InvalidDocument/.test(err.message)) {
      throw new CloudError(
        'stack-not-deployed',
        `the stack's convert automation ${stack.convertDocument} does not exist: run \`npx cdk deploy\` again`,
        err,
      );
    }
    throw err;
  });
  if (!out.AutomationExecutionId)
    throw new CloudError('failed', 'ssm:StartAutomationExecution returned no id');
  return out.AutomationExecutionId;
}

export interface AutomationResult {
  status: string;
  failureMessage?: string;
  /** The failed step's name, when one failed. */
  failedStep?: string;
  /** The whole finished execution (its steps' outputs: lib/cloud/conversion-outcome.ts reads them). */
  execution?: AutomationExecution;
}

const TERMINAL_AUTOMATION = ['Success', 'Failed', 'Cancelled', 'TimedOut', 'CompletedWithFailure', 'Exited'];

export async function waitForAutomation(
  clients: CloudClients,
  executionId: string,
  options: { clock?: Clock; timeoutMs?: number; pollMs?: number; onStatus?: (status: string) => void } = {},
): Promise<AutomationResult> {
  const clock = options.clock ?? realClock;
  const deadline = clock.now() + (options.timeoutMs ?? 20 * 60_000);
  for (;;) {
    const out = await aws('ssm:GetAutomationExecution', () =>
      clients.ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: executionId })),
    );
    const ex = out.AutomationExecution;
    const status = ex?.AutomationExecutionStatus ?? 'Pending';
    options.onStatus?.(status);
    if (TERMINAL_AUTOMATION.includes(status)) {
      const failed = ex?.StepExecutions?.find(
        (s) => s.StepStatus === 'Failed' || s.StepStatus === 'TimedOut',
      );
      return {
        status,
        failureMessage: ex?.FailureMessage ?? failed?.FailureMessage,
        failedStep: failed?.StepName,
        execution: ex,
      };
    }
    if (clock.now() >= deadline) {
      throw new CloudError(
        'timeout',
        `conversion ${executionId} is still ${status}: check it with \`aws ssm get-automation-execution --automation-execution-id ${executionId}\``,
      );
    }
    await clock.sleep(options.pollMs ?? 3_000);
  }
}
