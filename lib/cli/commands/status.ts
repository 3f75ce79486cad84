import type { Command } from 'commander';
import { discoverStack, StackNotFoundError } from '../../cloud/discovery';
import {
  agentPingStatus,
  describeFirstEpoch,
  describeInstance,
  parseBootstrapState,
  readFirstEpoch,
} from '../../cloud/instance';
import { listRunIds, readRun } from '../../cloud/runs';
import { listPublished } from '../../param-folder/s3';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { formatDuration, formatPercent } from '../ui/format';
import { paint } from '../ui/terminal';
import { printPreflight } from './preflight';
import { describeProgress } from './train';

/**
 * `bnn-pynq status`: one screen that answers "where am I": stack, instance, bootstrap, the current
 * run and its progress, and what is published.
 */
export async function runStatus(env: CloudEnv): Promise<void> {
  const { clients, term } = env;
  const line = (label: string, value: string) => term.out(`${`${label}:`.padEnd(12)}${value}\n`);
  const stack = await discoverStack(clients, env.stackName, env.region).catch(async (err) => {
    if (!(err instanceof StackNotFoundError)) throw err;
    // Before the first deploy, "where am I" is "what would block it": the preflight checks.
    line('stack', `${env.stackName} not deployed${env.region ? ` in ${env.region}` : ''}; preflight:`);
    await printPreflight(env, { stackOverride: env.stackName });
    throw err;
  });
  line('stack', `${stack.stackName}${env.region ? ` (${env.region})` : ''}`);
  line('buckets', `datasets s3://${stack.datasetBucket}, artifacts s3://${stack.artifactBucket}`);

  const inst = await describeInstance(clients, stack.instanceId);
  const ping = inst.state === 'running' ? await agentPingStatus(clients, stack.instanceId) : undefined;
  line(
    'instance',
    `${inst.id}${inst.type ? ` ${inst.type}` : ''} ${inst.lifecycle}: ${paint(term, inst.state === 'running' ? 'green' : 'yellow', inst.state)}${ping ? `, SSM agent ${ping}` : ''}`,
  );
  if (inst.imageId) {
    line(
      'ami',
      `${inst.imageId} (kept for the instance's life; \`-c refreshAmi=<token>\` moves to the newest)`,
    );
  }
  const boot = parseBootstrapState(stack.bootstrapState);
  // The first boot's training epoch on the device it chose (bootstrap.sh, bnn_train.smoke): device name and speed.
  const epoch =
    boot.phase === 'ready'
      ? await readFirstEpoch(clients, stack.artifactBucket, stack.instanceId)
      : undefined;
  const measured = epoch && (epoch.device === 'cuda') === (boot.phase === 'ready' && boot.device === 'gpu');
  const bootText =
    boot.phase === 'failed'
      ? paint(term, 'red', `failed at step "${boot.step}" (see \`bnn-pynq logs --bootstrap\`)`)
      : boot.phase === 'ready' && boot.device === 'cpu' && boot.note
        ? paint(
            term,
            'yellow',
            `${boot.raw}${epoch && measured ? `; first epoch: ${describeFirstEpoch(epoch)}` : ''}`,
          )
        : boot.phase === 'ready' && epoch && measured
          ? `ready: ${boot.device} (${describeFirstEpoch(epoch)})`
          : boot.raw || 'unknown';
  line('bootstrap', bootText);

  // The current run: the newest one still starting or running (ids sort by start time).
  const ids = await listRunIds(clients, stack.artifactBucket);
  let current: Awaited<ReturnType<typeof readRun>> | undefined;
  for (const id of ids.slice(0, 5)) {
    const run = await readRun(clients, stack.artifactBucket, id, { verify: false }).catch(() => undefined);
    if (run?.status && (run.status.state === 'running' || run.status.state === 'starting')) {
      current = run;
      break;
    }
  }
  if (current) {
    line('run', `${current.runId} ${current.status?.state}: ${describeProgress(current)}`);
  } else {
    line(
      'run',
      ids.length > 0 ? `none running (latest: ${ids[0]})` : 'none yet: start one with `bnn-pynq train`',
    );
    if (inst.state === 'running') {
      term.out(
        `${' '.repeat(12)}${paint(term, 'yellow', 'the instance is running with no run: `bnn-pynq stop` stops paying for it')}\n`,
      );
    }
  }

  const published = await listPublished(clients.s3, stack.artifactBucket);
  if (published.length === 0) line('params', 'none published yet');
  for (const p of published) {
    const age = formatDuration((env.clock.now() - Date.parse(p.manifest.createdAt)) / 1000);
    line(
      'params',
      `${p.dataset}/${p.network}: run ${p.manifest.runId ?? '?'}, board accuracy ${formatPercent(p.manifest.accuracy ?? undefined)}, published ${age} ago (\`bnn-pynq fetch --dataset ${p.dataset}\`)`,
    );
  }
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('status')
      .description(
        'Show the stack, instance, bootstrap state, current run and published params (before the first deploy: the preflight checks)',
      ),
  ).action(async (options: CloudOptions) => runStatus(ctx.cloudEnv(options)));
}
