import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { aws, CloudError } from '../../cloud/aws-errors';
import { discoverStack, type StackResources, type SweepResources } from '../../cloud/discovery';
import { objectExists, parseRunStatus, readText } from '../../cloud/runs';
import {
  describeRunJobs,
  getBuild,
  gpuQuota,
  imageExists,
  runningImageBuild,
  startImageBuild,
  stopSweepJobs,
  submitSweepJob,
} from '../../cloud/sweeps';
import { must } from '../../defined';
import { UserError } from '../../errors';
import {
  BUILTIN_DATASETS,
  DATASET_MANIFEST_FILE,
  datasetPrefix,
  newSweepId,
  runKeys,
  runStateKey,
  SWEEP_ID_PATTERN,
  sweepKey,
} from '../../layout';
import { mapLimit } from '../../limit';
import { parseProgress } from '../../report/progress';
import { renderSweepReport } from '../../report/sweep-html';
import {
  type GridParameter,
  parseGridArg,
  planSweep,
  type RunParameters,
  runParameter,
} from '../../sweep/grid';
import { SWEEP_JOB_RESOURCES } from '../../sweep/job-resources';
import { type Market, parseSweepRecord, type SweepRecord, sweepRunRequest } from '../../sweep/record';
import { chooseBest, reconcile, type SweepRunStatus } from '../../sweep/status';
import type { CloudEnv } from '../env';
import { formatDuration, formatPercent, renderTable } from '../ui/format';
import { startSpinner } from '../ui/spinner';
import { paint } from '../ui/terminal';
import { runConvertRun } from './convert-run';
import { fixedParameters, printDryRun, type SweepOptions } from './sweep';

const S3_CONCURRENCY = 50;

function sweepsOf(stack: StackResources): SweepResources {
  if (!stack.sweeps) {
    throw new CloudError(
      'stack-not-deployed',
      `stack ${stack.stackName} has no sweeps construct (deployed with -c sweeps=false, or by an older version): run \`npx cdk deploy\` (sweeps are on by default)`,
    );
  }
  return stack.sweeps;
}

function assertSweepId(id: string): void {
  if (!SWEEP_ID_PATTERN.test(id)) {
    throw new UserError(
      `"${id}" is not a sweep id (expected something like 20261201-130000-sweep-a1b2; \`bnn-pynq runs\` shows them)`,
    );
  }
}

async function putJson(env: CloudEnv, bucket: string, key: string, value: unknown): Promise<void> {
  await aws(`s3:PutObject (s3://${bucket}/${key})`, () =>
    env.clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(value, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    ),
  );
}

/** Makes sure the image `<repository>:<asset hash>` exists: builds it (once) and waits, with progress. */
export async function ensureImage(env: CloudEnv, sweeps: SweepResources, timeoutMinutes = 90): Promise<void> {
  if (await imageExists(env.clients, sweeps)) return;
  const running = await runningImageBuild(env.clients, sweeps);
  let build = running ?? (await startImageBuild(env.clients, sweeps));
  env.term.err(
    `${paint(env.term, 'yellow', 'note:')} the training image ${sweeps.imageTag.slice(0, 12)} is not built yet; ${running ? 'a build is running' : 'started its build'} (CodeBuild ${build.id}; usually 15–25 minutes)\n`,
  );
  const spinner = startSpinner(env.term, 'building the image', env.clock.now);
  const deadline = env.clock.now() + timeoutMinutes * 60_000;
  for (;;) {
    const id = build.id as string;
    build = await getBuild(env.clients, id);
    if (build.buildStatus === 'SUCCEEDED') {
      spinner.succeed(`image built (${sweeps.imageRepository}:${sweeps.imageTag.slice(0, 12)})`);
      return;
    }
    if (build.buildStatus && build.buildStatus !== 'IN_PROGRESS') {
      spinner.fail('image build failed');
      const phase = build.phases?.find((p) => p.phaseStatus && p.phaseStatus !== 'SUCCEEDED');
      const why = phase?.contexts
        ?.map((c) => c.message)
        .filter(Boolean)
        .join('; ');
      throw new CloudError(
        'failed',
        `the image build ${id} ${build.buildStatus}${phase ? ` in ${phase.phaseType}` : ''}${why ? `: ${why}` : ''}; its log: ${build.logs?.deepLink ?? `aws codebuild batch-get-builds --ids ${id}`}`,
      );
    }
    spinner.update(`building the image: ${(build.currentPhase ?? 'QUEUED').toLowerCase()}`);
    if (env.clock.now() > deadline) {
      spinner.fail('still building');
      throw new CloudError(
        'timeout',
        `the image build ${id} is still running after ${timeoutMinutes} minutes; run the sweep again later (it reuses the build)`,
      );
    }
    await env.clock.sleep(15_000);
  }
}

/** `bnn-pynq sweep --grid ...`: plan, check, build the image if needed, write the run files, submit one job. */
export async function runSweep(env: CloudEnv, options: SweepOptions): Promise<string> {
  const { term, clients } = env;
  if (options.grid.length === 0)
    throw new UserError('give at least one --grid key=values (e.g. --grid seed=1..4)');
  const axes = options.grid.map(parseGridArg);
  const sweepId = newSweepId(new Date(env.clock.now()));
  const runs = planSweep(sweepId, axes, fixedParameters(options));
  const market: Market = options.onDemand ? 'on-demand' : 'spot';
  const keys = axes.map((a) => a.key);

  if (options.dryRun) {
    printDryRun(env.term, runs, keys, market);
    return sweepId;
  }

  const stack = await discoverStack(clients, env.stackName, env.region);
  const sweeps = sweepsOf(stack);
  const datasets = [...new Set(runs.map((r) => runParameter(r.parameters, 'dataset')))].filter(
    (d) => !(BUILTIN_DATASETS as readonly string[]).includes(d),
  );
  const present = await Promise.all(
    datasets.map((d) =>
      objectExists(clients, stack.datasetBucket, `${datasetPrefix(d)}${DATASET_MANIFEST_FILE}`),
    ),
  );
  const missing = datasets.filter((_, i) => !present[i]);
  if (missing.length > 0) {
    throw new UserError(
      `dataset${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in s3://${stack.datasetBucket}/datasets/: upload with \`bnn-pynq dataset import <folder> --name <name> --upload\` (built-in: ${BUILTIN_DATASETS.join(', ')})`,
    );
  }

  // One job needs 4 vCPUs of the account's G-and-VT quota (Spot or on-demand); 0 means no job will ever start.
  const { quota, value } = await gpuQuota(clients, market);
  if (value < SWEEP_JOB_RESOURCES.vcpus) {
    throw new CloudError(
      'failed',
      `the "${quota.name}" quota (${quota.code}) is ${value} vCPUs in ${env.region ?? 'this region'}; one sweep run needs ${SWEEP_JOB_RESOURCES.vcpus}. Ask for at least ${SWEEP_JOB_RESOURCES.vcpus * Math.min(runs.length, 4)} in Service Quotas (EC2, ${quota.code}) and run the sweep again${market === 'spot' ? ', or use --on-demand' : ''}`,
    );
  }
  const parallel = Math.floor(value / SWEEP_JOB_RESOURCES.vcpus);
  if (parallel < runs.length && options.maxParallel === undefined) {
    term.err(
      `note: the ${quota.short} vCPU quota (${value}) lets about ${parallel} run(s) go at once; the rest wait in the queue\n`,
    );
  }

  await ensureImage(env, sweeps, options.buildTimeout);

  const createdAt = new Date(env.clock.now()).toISOString();
  const record: SweepRecord = {
    sweepId,
    createdAt,
    grid: axes.map((a) => ({ key: a.key, values: [...a.values] })),
    fixed: fixedParameters(options),
    market,
    image: `${sweeps.imageRepository}:${sweeps.imageTag}`,
    jobQueue: market === 'spot' ? sweeps.spotQueue : sweeps.onDemandQueue,
    jobDefinition: sweeps.jobDefinition,
    jobName: `bnn-pynq-${sweepId}`,
    runs: runs.map((r) => ({ index: r.index, runId: r.runId, parameters: r.parameters })),
  };
  const bucket = stack.artifactBucket;
  const written: string[] = [];
  try {
    await mapLimit(runs, S3_CONCURRENCY, async (r) => {
      const key = runKeys(r.runId).request;
      await putJson(env, bucket, key, sweepRunRequest(r, sweepId, createdAt));
      written.push(key);
      const stateKey = runStateKey(r.runId);
      await putJson(env, bucket, stateKey, {
        runId: r.runId,
        state: 'starting',
        updatedAt: createdAt,
        attempt: 0,
      });
      written.push(stateKey);
    });
    await putJson(env, bucket, sweepKey(sweepId), record);
    written.push(sweepKey(sweepId));
    record.jobId = await submitSweepJob(clients, {
      jobName: record.jobName,
      jobQueue: record.jobQueue,
      jobDefinition: record.jobDefinition,
      sweepId,
      size: runs.length,
      maxParallel: options.maxParallel,
    });
  } catch (err) {
    // Nothing half-written: a sweep that was not submitted leaves no run files behind.
    for (let i = 0; i < written.length; i += 1000) {
      await clients.s3
        .send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: written.slice(i, i + 1000).map((Key) => ({ Key })) },
          }),
        )
        .catch(() => undefined);
    }
    throw err;
  }
  await putJson(env, bucket, sweepKey(sweepId), record);
  term.out(`${sweepId}\n`);
  term.err(
    `sweep ${sweepId}: ${runs.length} run(s) submitted as Batch job ${record.jobId} on ${market} GPUs. Follow it: \`bnn-pynq sweep status ${sweepId}\`; choose: \`bnn-pynq sweep best ${sweepId}\`\n`,
  );
  if (options.follow) await followSweep(env, sweepId);
  return sweepId;
}

export interface SweepRunRow {
  index: number;
  runId: string;
  parameters: RunParameters;
  status: SweepRunStatus;
  progressText?: string;
}

async function readRecord(env: CloudEnv, bucket: string, sweepId: string): Promise<SweepRecord> {
  assertSweepId(sweepId);
  const text = await readText(env.clients, bucket, sweepKey(sweepId));
  if (text === undefined)
    throw new CloudError(
      'not-found',
      `sweep ${sweepId} not found (s3://${bucket}/${sweepKey(sweepId)}); \`bnn-pynq runs\` lists sweep runs`,
    );
  try {
    return parseSweepRecord(text);
  } catch (err) {
    throw new UserError(`s3://${bucket}/${sweepKey(sweepId)} ${(err as Error).message}`);
  }
}

/** Every run of a sweep, reconciled: Batch job states (100 per call) and the runs' S3 records, read in parallel. */
export async function sweepStatus(
  env: CloudEnv,
  sweepId: string,
): Promise<{ stack: StackResources; record: SweepRecord; rows: SweepRunRow[] }> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const record = await readRecord(env, stack.artifactBucket, sweepId);
  const [jobs, files] = await Promise.all([
    record.jobId
      ? describeRunJobs(env.clients, record.jobId, record.runs.length)
      : Promise.resolve(record.runs.map(() => undefined)),
    mapLimit(record.runs, S3_CONCURRENCY, async (r) => {
      const [state, progress] = await Promise.all([
        readText(env.clients, stack.artifactBucket, runStateKey(r.runId)),
        readText(env.clients, stack.artifactBucket, runKeys(r.runId).progress),
      ]);
      return { state: parseRunStatus(state), progress: parseProgress(progress ?? '') };
    }),
  ]);
  const now = env.clock.now();
  const rows = record.runs.map((r, i) => {
    const job = jobs[i];
    const f = must(files[i], `run ${r.runId}'s state and progress`);
    const status = reconcile(
      job,
      { state: f.state?.state, stateDetail: f.state?.detail, progress: f.progress },
      record.market,
      now,
    );
    return { index: r.index, runId: r.runId, parameters: r.parameters, status };
  });
  return { stack, record, rows };
}

const TERMINAL = new Set(['succeeded', 'failed', 'stopped', 'cancelled']);

/** `bnn-pynq sweep status <id>`: one line per run. */
export async function runSweepStatus(env: CloudEnv, sweepId: string): Promise<SweepRunRow[]> {
  const { record, rows } = await sweepStatus(env, sweepId);
  const keys = record.grid.map((g) => g.key as GridParameter);
  // Empty epochs: the network's own number (bnn_train chooses it; progress.jsonl records it).
  const epochs = (r: SweepRunRow) =>
    `${r.status.epoch ?? 0}/${r.parameters.epochs || r.status.epochs || '?'}`;
  env.term.out(
    renderTable(
      ['#', 'run', ...keys, 'state', 'epoch', 'best valid err (board)', 'attempts', 'cost (est.)', 'detail'],
      rows.map((r) => [
        String(r.index),
        r.runId,
        ...keys.map((k) => runParameter(r.parameters, k)),
        r.status.state,
        epochs(r),
        r.status.bestValidBoard === undefined
          ? '-'
          : `${formatPercent(r.status.bestValidBoard)} @${r.status.bestEpoch}`,
        String(r.status.attempts),
        `$${r.status.costUsd.toFixed(2)}`,
        (r.status.detail ?? '').slice(0, 60),
      ]),
    ),
  );
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.status.state, (counts.get(r.status.state) ?? 0) + 1);
  const total = rows.reduce((s, r) => s + r.status.costUsd, 0);
  const best = chooseBest(rows);
  env.term.err(
    `sweep ${sweepId}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}; cost so far ≈ $${total.toFixed(2)} (estimate: run time × ${record.market} g4dn.xlarge price)${best ? `; best so far ${best.runId} (${formatPercent(best.status.bestValidBoard)} valid err, board)` : ''}${record.cancelledAt ? `; cancelled ${record.cancelledAt}` : ''}\n`,
  );
  return rows;
}

async function followSweep(env: CloudEnv, sweepId: string): Promise<void> {
  const started = env.clock.now();
  for (;;) {
    const { rows } = await sweepStatus(env, sweepId);
    const done = rows.filter((r) => TERMINAL.has(r.status.state)).length;
    env.term.err(
      `${done}/${rows.length} runs finished (${formatDuration((env.clock.now() - started) / 1000)})\n`,
    );
    if (done === rows.length) {
      await runSweepStatus(env, sweepId);
      return;
    }
    await env.clock.sleep(60_000);
  }
}

/** `bnn-pynq sweep cancel <id>`: cancels the queued runs, terminates the running ones (they keep their checkpoints). */
export async function runSweepCancel(env: CloudEnv, sweepId: string): Promise<void> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const record = await readRecord(env, stack.artifactBucket, sweepId);
  if (!record.jobId)
    throw new UserError(`sweep ${sweepId} was never submitted (no Batch job); nothing to cancel`);
  const jobs = await describeRunJobs(env.clients, record.jobId, record.runs.length);
  const running = jobs
    .filter((j) => j?.status === 'RUNNING' || j?.status === 'STARTING')
    .map((j) => j?.jobId as string);
  await stopSweepJobs(env.clients, record.jobId, running, `bnn-pynq sweep cancel ${sweepId}`);
  record.cancelledAt = new Date(env.clock.now()).toISOString();
  await putJson(env, stack.artifactBucket, sweepKey(sweepId), record);
  const queued = jobs.filter(
    (j) => j && !['RUNNING', 'STARTING', 'SUCCEEDED', 'FAILED'].includes(j.status ?? ''),
  ).length;
  env.term.err(
    `sweep ${sweepId}: cancelled ${queued} queued run(s), terminated ${running.length} running run(s) (their checkpoints stay in S3); finished runs are kept\n`,
  );
}

/** `bnn-pynq sweep best <id> [--publish]`: the run with the lowest board-rule validation error. */
export async function runSweepBest(
  env: CloudEnv,
  sweepId: string,
  options: { publish?: boolean } = {},
): Promise<string> {
  const { record, rows } = await sweepStatus(env, sweepId);
  const best = chooseBest(rows);
  if (!best) {
    const done = rows.filter((r) => r.status.state === 'succeeded').length;
    throw new UserError(
      `sweep ${sweepId} has no succeeded run with a board-rule validation error yet (${done} of ${rows.length} succeeded): \`bnn-pynq sweep status ${sweepId}\``,
    );
  }
  const keys = record.grid.map((g) => g.key as GridParameter);
  env.term.out(`${best.runId}\n`);
  env.term.err(
    `best of ${rows.filter((r) => r.status.state === 'succeeded').length} succeeded run(s): ${best.runId}, validation error ${formatPercent(best.status.bestValidBoard)} (board rule) at epoch ${best.status.bestEpoch}; ${keys.map((k) => `${k}=${best.parameters[k]}`).join(', ')}\n`,
  );
  if (options.publish) {
    await runConvertRun(env, best.runId, { publish: true, dataset: best.parameters.dataset });
  } else {
    env.term.err(
      `publish it (convert, verify, params/${best.parameters.dataset}/): \`bnn-pynq sweep best ${sweepId} --publish\`\n`,
    );
  }
  return best.runId;
}

/** `bnn-pynq sweep report <id>`: one HTML page. */
export async function runSweepReport(
  env: CloudEnv,
  sweepId: string,
  options: { out?: string } = {},
): Promise<string> {
  const { stack, record, rows } = await sweepStatus(env, sweepId);
  const progress = await mapLimit(rows, S3_CONCURRENCY, async (r) =>
    parseProgress((await readText(env.clients, stack.artifactBucket, runKeys(r.runId).progress)) ?? ''),
  );
  const out = path.resolve(options.out ?? `sweep-${sweepId}.html`);
  if (!existsSync(path.dirname(out))) {
    throw new UserError(
      `--out ${options.out}: folder ${path.dirname(out)} does not exist; create it or choose another path`,
    );
  }
  const html = renderSweepReport({
    sweepId,
    gridKeys: record.grid.map((g) => g.key),
    runs: rows.map((r, i) => ({
      index: r.index,
      runId: r.runId,
      values: r.parameters,
      state: r.status.state,
      bestValidBoard: r.status.bestValidBoard,
      bestEpoch: r.status.bestEpoch,
      progress: progress[i] ?? parseProgress(''),
    })),
    chosen: chooseBest(rows)?.runId,
    generatedAt: new Date(env.clock.now()).toISOString(),
  });
  const temp = `${out}.tmp-${process.pid}`;
  await writeFile(temp, html);
  await rename(temp, out);
  env.term.out(`${out}\n`);
  return out;
}
