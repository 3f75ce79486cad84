/**
 * Sweep benchmarks (issue 18 budgets): `sweep --dry-run` of a 100-run grid (≤ 1 s; the grid alone, in process and
 * as a CLI process), and `sweep status` of a 100-run sweep (≤ 3 s) against mocks that answer every AWS call after
 * 100 ms (SSM discovery, S3 reads of sweep.json / state.json / progress.jsonl, Batch DescribeJobs).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { runSweepDryRun } from '../../lib/cli/commands/sweep';
import { runSweepStatus } from '../../lib/cli/commands/sweep-run';
import { captureTerminal } from '../../lib/cli/ui/terminal';
import { createClients } from '../../lib/cloud/clients';
import { discoveryParameter, runKeys, runStateKey, sweepKey } from '../../lib/layout';
import { parseGridArg, planSweep } from '../../lib/sweep/grid';

const LATENCY_MS = 100;
const delay = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), LATENCY_MS));
const GRID = ['lr=0.003,0.001', 'seed=1..10', 'dataset=fashion-mnist,mnist,my-set,cats,dogs'];
const SWEEP = '20261201-130000-sweep-be01';

function measure<T>(fn: () => Promise<T> | T) {
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const c = process.cpuUsage(c0);
    return { value, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
}

export async function benchSweepDryRun() {
  const run = () =>
    runSweepDryRun(
      { term: captureTerminal(), clock: { now: Date.now, sleep: async () => {} } },
      { grid: GRID, epochs: 200 },
    );
  run(); // warm-up: module loading is the process figure below
  const inProcess = await measure(run)();
  const bin = path.resolve(__dirname, '..', '..', 'bin', 'bnn-pynq.js');
  const args = [bin, 'sweep', ...GRID.flatMap((g) => ['--grid', g]), '--epochs', '200', '--dry-run'];
  spawnSync(process.execPath, args); // the first call may rebuild the bundle
  const t0 = performance.now();
  const p = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const processWallMs = performance.now() - t0;
  const lines = p.stdout.trim().split('\n').length - 2;
  return {
    runs: lines,
    inProcessMs: inProcess.wallMs,
    inProcessCpuMs: inProcess.cpuMs,
    processWallMs,
    status: p.status,
  };
}

export async function benchSweepStatus() {
  const runs = planSweep(SWEEP, GRID.map(parseGridArg), { epochs: '200' });
  const clients = createClients({ region: 'us-east-1' });
  const calls = { s3: 0, batch: 0, ssm: 0 };
  const ART = 'bench-artifacts';
  const discovery: Record<string, string> = {
    'dataset-bucket': 'bench-datasets',
    'artifact-bucket': ART,
    'instance-id': 'i-0bench',
    'log-group': '/bnn-pynq/bench',
    'train-document': 'doc',
    'convert-document': 'convert',
    'bootstrap-state': 'ready: gpu',
    'sweep-job-queue': 'q',
    'sweep-job-queue-on-demand': 'qd',
    'sweep-job-definition': 'jd',
    'sweep-image-repository': '1.dkr.ecr.us-east-1.amazonaws.com/r',
    'sweep-image-project': 'p',
    'sweep-image-tag': 't',
  };
  mockClient(clients.ssm)
    .on(GetParametersByPathCommand)
    .callsFake(() => {
      calls.ssm++;
      return delay({
        Parameters: Object.entries(discovery).map(([k, v]) => ({
          Name: discoveryParameter('BnnPynq', k as never),
          Value: v,
        })),
      });
    });
  const record = {
    sweepId: SWEEP,
    createdAt: '2026-12-01T13:00:00Z',
    grid: GRID.map(parseGridArg),
    fixed: { epochs: '200' },
    market: 'spot',
    image: 'r:t',
    jobQueue: 'q',
    jobDefinition: 'jd',
    jobId: 'job-bench',
    jobName: 'bnn-pynq-bench',
    runs: runs.map((r) => ({ index: r.index, runId: r.runId, parameters: r.parameters })),
  };
  const progress = Array.from({ length: 120 }, (_, e) =>
    JSON.stringify({ epoch: e + 1, epochs: 200, val_error_board: 20 - e / 10, test_error_board: 21 }),
  ).join('\n');
  const bodies = new Map<string, string>([[sweepKey(SWEEP), JSON.stringify(record)]]);
  for (const r of runs) {
    bodies.set(runStateKey(r.runId), JSON.stringify({ state: 'running', attempt: 1 }));
    bodies.set(runKeys(r.runId).progress, progress);
  }
  mockClient(clients.s3)
    .on(GetObjectCommand)
    .callsFake((input: { Key: string }) => {
      calls.s3++;
      const text = bodies.get(input.Key) ?? '';
      return delay({ Body: { transformToString: async () => text } } as never);
    });
  mockClient(clients.batch)
    .on(DescribeJobsCommand)
    .callsFake((input: { jobs: string[] }) => {
      calls.batch++;
      return delay({
        jobs: input.jobs.map(
          (jobId) =>
            ({
              jobId,
              jobName: 'x',
              jobQueue: 'q',
              jobDefinition: 'jd',
              status: 'RUNNING',
              startedAt: Date.now() - 3_600_000,
            }) as JobDetail,
        ),
      });
    });
  const env = {
    clients,
    term: captureTerminal(),
    clock: { now: Date.now, sleep: async () => {} },
    stackName: 'BnnPynq',
    region: 'us-east-1',
  };
  await runSweepStatus(env, SWEEP); // warm-up (module loading)
  for (const k of Object.keys(calls) as (keyof typeof calls)[]) calls[k] = 0;
  const r = await measure(() => runSweepStatus({ ...env, term: captureTerminal() }, SWEEP))();
  return { runs: r.value.length, wallMs: r.wallMs, cpuMs: r.cpuMs, calls, latencyMs: LATENCY_MS };
}

export const formatDryRun = (r: Awaited<ReturnType<typeof benchSweepDryRun>>) =>
  `sweep --dry-run (${r.runs} runs) ${r.inProcessMs.toFixed(0)} ms in process (${r.inProcessCpuMs.toFixed(0)} ms CPU), ${r.processWallMs.toFixed(0)} ms as a CLI process  (budget 1000 ms)`;
export const formatStatus = (r: Awaited<ReturnType<typeof benchSweepStatus>>) =>
  `sweep status (${r.runs} runs) ${r.wallMs.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU  (${r.calls.s3} S3 GETs, ${r.calls.batch} DescribeJobs, ${r.calls.ssm} SSM; every call mocked with ${r.latencyMs} ms latency; budget 3000 ms)`;

if (require.main === module) {
  (async () => {
    process.stdout.write(`${formatDryRun(await benchSweepDryRun())}\n`);
    process.stdout.write(`${formatStatus(await benchSweepStatus())}\n`);
  })();
}
