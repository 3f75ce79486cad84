import { DescribeInstancesCommand, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, GetParameterCommand } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { discoveryParameter, instanceRecordKeys } from '../layout';
import { aws, CloudError } from './aws-errors';
import type { CloudClients } from './clients';
import type { StackResources } from './discovery';
import { readText } from './runs';

export interface InstanceInfo {
  id: string;
  /** EC2 state: pending, running, stopping, stopped, shutting-down, terminated. */
  state: string;
  type?: string;
  lifecycle: 'spot' | 'on-demand';
  launchTime?: Date;
  /** The AMI the instance was launched from (fixed for its life: docs/configuration.md, refreshAmi). */
  imageId?: string;
}

export async function describeInstance(clients: CloudClients, instanceId: string): Promise<InstanceInfo> {
  const out = await aws('ec2:DescribeInstances', () =>
    clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
  ).catch((err: CloudError) => {
    if (/InvalidInstanceID/.test(String(err.message))) {
      throw new CloudError(
        'stack-not-deployed',
        `the stack's instance ${instanceId} no longer exists: run \`npx cdk deploy\` to recreate it`,
        err,
      );
    }
    throw err;
  });
  const inst = out.Reservations?.[0]?.Instances?.[0];
  if (!inst) {
    throw new CloudError(
      'stack-not-deployed',
      `the stack's instance ${instanceId} no longer exists: run \`npx cdk deploy\` to recreate it`,
    );
  }
  return {
    id: instanceId,
    state: inst.State?.Name ?? 'unknown',
    type: inst.InstanceType,
    lifecycle: inst.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    launchTime: inst.LaunchTime,
    imageId: inst.ImageId,
  };
}

/** The first boot's one-epoch measurement (scripts/instance/bnn_train/smoke.py writes it; lib/layout.ts instanceRecordKeys). */
export interface FirstEpoch {
  device: 'cuda' | 'cpu';
  deviceName: string;
  secondsPerEpoch: number;
  images: number;
  measuredAt?: string;
}

const FirstEpochRecord = z.object({
  device: z.enum(['cuda', 'cpu']),
  device_name: z.string(),
  seconds_per_epoch: z.number().nonnegative(),
  images: z.number().int().positive(),
  measured_at: z.string().optional(),
});

/** The record of `instance/<instance-id>/first-epoch.json`, or undefined when it is missing or unreadable. */
export async function readFirstEpoch(
  clients: CloudClients,
  artifactBucket: string,
  instanceId: string,
): Promise<FirstEpoch | undefined> {
  const text = await readText(clients, artifactBucket, instanceRecordKeys(instanceId).firstEpoch).catch(
    () => undefined,
  );
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = FirstEpochRecord.safeParse(json);
  if (!r.success) return undefined;
  return {
    device: r.data.device,
    deviceName: r.data.device_name,
    secondsPerEpoch: r.data.seconds_per_epoch,
    images: r.data.images,
    measuredAt: r.data.measured_at,
  };
}

/** `Tesla T4, 1.8 s/epoch on 1,000 images` */
export function describeFirstEpoch(e: FirstEpoch): string {
  const seconds =
    e.secondsPerEpoch < 10 ? e.secondsPerEpoch.toFixed(1) : String(Math.round(e.secondsPerEpoch));
  return `${e.deviceName}, ${seconds} s/epoch on ${e.images.toLocaleString('en-US')} images`;
}

/** The SSM agent's view of the instance: `Online`, `ConnectionLost`, `Inactive`, or `Unknown` (never registered). */
export async function agentPingStatus(clients: CloudClients, instanceId: string): Promise<string> {
  const out = await aws('ssm:DescribeInstanceInformation', () =>
    clients.ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    ),
  );
  return out.InstanceInformationList?.[0]?.PingStatus ?? 'Unknown';
}

/** Parsed bootstrap state: see BOOTSTRAP_STATE_TAG in lib/layout.ts for the values the instance writes. */
export type Bootstrap =
  | { phase: 'pending' | 'installing'; raw: string }
  | { phase: 'ready'; device: 'gpu' | 'cpu'; note?: string; raw: string }
  | { phase: 'failed'; step: string; raw: string }
  | { phase: 'unknown'; raw: string };

export function parseBootstrapState(raw: string): Bootstrap {
  const s = raw.trim();
  if (s === 'pending' || s === 'installing') return { phase: s, raw: s };
  const ready = /^ready:\s*(gpu|cpu)\s*(?:\((.*)\))?\s*$/.exec(s);
  if (ready) return { phase: 'ready', device: ready[1] as 'gpu' | 'cpu', note: ready[2], raw: s };
  const failed = /^failed:\s*(.*)$/.exec(s);
  if (failed) return { phase: 'failed', step: failed[1] || 'unknown step', raw: s };
  return { phase: 'unknown', raw: s };
}

export async function readBootstrapState(clients: CloudClients, stackName: string): Promise<Bootstrap> {
  const out = await aws('ssm:GetParameter', () =>
    clients.ssm.send(new GetParameterCommand({ Name: discoveryParameter(stackName, 'bootstrap-state') })),
  );
  return parseBootstrapState(out.Parameter?.Value ?? '');
}

export function bootstrapFailedError(stack: StackResources, step: string): CloudError {
  return new CloudError(
    'bootstrap-failed',
    `the instance's bootstrap failed at step "${step}": read \`bnn-pynq logs --bootstrap\` (log group ${stack.logGroup}); fix and reboot the instance, or redeploy`,
  );
}

export async function startInstance(clients: CloudClients, instanceId: string): Promise<void> {
  await aws('ec2:StartInstances', () =>
    clients.ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] })),
  ).catch((err: CloudError) => {
    if (/IncorrectInstanceState/.test(err.message)) {
      throw new CloudError(
        'failed',
        `instance ${instanceId} is still stopping and cannot be started yet: wait a minute and run \`bnn-pynq start\` again`,
        err,
      );
    }
    if (/InsufficientInstanceCapacity/.test(err.message)) {
      throw new CloudError(
        'failed',
        `AWS has no capacity for this instance type in its availability zone right now: retry later, or redeploy with another instance type (-c instanceType=...)`,
        err,
      );
    }
    throw err;
  });
}

export async function stopInstance(clients: CloudClients, instanceId: string): Promise<void> {
  await aws('ec2:StopInstances', () =>
    clients.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })),
  );
}

export interface Clock {
  sleep(ms: number): Promise<void>;
  now(): number;
}

export const realClock: Clock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
};

export interface ReadyProgress {
  /** What is being waited for now, e.g. `instance pending`, `SSM agent`, `bootstrap installing`. */
  stage: string;
}

/**
 * Starts the instance if it is stopped and waits until EC2 says running, the SSM agent is Online,
 * and the bootstrap state is `ready: …`. Fails at once on `failed: <step>` or a terminated instance,
 * and after `timeoutMs` with what it was still waiting for.
 */
export async function ensureReady(
  clients: CloudClients,
  stack: StackResources,
  options: { clock?: Clock; timeoutMs?: number; pollMs?: number; onStage?: (p: ReadyProgress) => void } = {},
): Promise<{ started: boolean; bootstrap: Bootstrap & { phase: 'ready' } }> {
  const clock = options.clock ?? realClock;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 5_000;
  const deadline = clock.now() + timeoutMs;
  let started = false;
  let stage = '';
  const report = (s: string) => {
    if (s !== stage) {
      stage = s;
      options.onStage?.({ stage: s });
    }
  };
  for (;;) {
    const inst = await describeInstance(clients, stack.instanceId);
    if (inst.state === 'terminated' || inst.state === 'shutting-down') {
      throw new CloudError(
        'stack-not-deployed',
        `instance ${inst.id} is ${inst.state}: run \`npx cdk deploy\` to replace it`,
      );
    }
    if (inst.state === 'stopped' && !started) {
      await startInstance(clients, inst.id);
      started = true;
      report('instance starting');
    } else if (inst.state === 'stopping') {
      report('instance stopping (will start it once stopped)');
    } else if (inst.state === 'running') {
      const ping = await agentPingStatus(clients, inst.id);
      if (ping !== 'Online') report('SSM agent coming online');
      else {
        const boot = await readBootstrapState(clients, stack.stackName);
        if (boot.phase === 'ready') return { started, bootstrap: boot };
        if (boot.phase === 'failed') throw bootstrapFailedError(stack, boot.step);
        report(`bootstrap ${boot.raw || 'pending'}`);
      }
    } else {
      report(`instance ${inst.state}`);
    }
    if (clock.now() >= deadline) {
      throw new CloudError(
        'timeout',
        `gave up after ${Math.round(timeoutMs / 60_000)} min waiting for: ${stage}. Check \`bnn-pynq status\` and \`bnn-pynq logs --bootstrap\`; a first boot installs the training environment and can take a while (--timeout <minutes>)`,
      );
    }
    await clock.sleep(pollMs);
  }
}
