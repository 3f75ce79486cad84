import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CancelJobCommand,
  ClientException,
  CreateConsumableResourceCommand,
  DescribeJobsCommand,
  type JobDetail,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import {
  AccountLimitExceededException,
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  StartBuildCommand,
} from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, ImageNotFoundException } from '@aws-sdk/client-ecr';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import { GetAutomationExecutionCommand, StartAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import { runRuns } from '../../lib/cli/commands/runs';
import { runSweepDryRun } from '../../lib/cli/commands/sweep';
import {
  runSweep,
  runSweepBest,
  runSweepCancel,
  runSweepReport,
  runSweepStatus,
} from '../../lib/cli/commands/sweep-run';
import { must } from '../../lib/defined';
import {
  discoveryParameter,
  RUN_ID_PATTERN,
  runKeys,
  runStateKey,
  SWEEP_ID_PATTERN,
  sweepKey,
} from '../../lib/layout';
import { parseSweepRecord } from '../../lib/sweep/record';
import { DISCOVERED, mockedCloud, STACK } from '../cloud/support';
import { SUCCESS } from '../conversion/automation-fixtures';
import { verifyJson } from '../report/fixtures';
import { type LocalS3, startLocalS3 } from '../support/s3-server';

// The sweep commands against aws-sdk-client-mock (Batch, ECR, CodeBuild, Service Quotas, SSM; real error classes)
// and the loopback S3 server (real objects: run.json, sweep.json, state.json, progress.jsonl).

const ART = DISCOVERED['artifact-bucket'];
const DATA = DISCOVERED['dataset-bucket'];
const SWEEPS = {
  'sweep-job-queue': 'arn:aws:batch:eu-west-1:123456789012:job-queue/SweepsSpotQueue',
  'sweep-job-queue-on-demand': 'arn:aws:batch:eu-west-1:123456789012:job-queue/SweepsOnDemandQueue',
  'sweep-job-definition': 'arn:aws:batch:eu-west-1:123456789012:job-definition/SweepsJob:1',
  'sweep-image-repository': '123456789012.dkr.ecr.eu-west-1.amazonaws.com/bnnpynq-sweeps',
  'sweep-image-project': 'SweepsImageBuild',
  'sweep-image-tag': 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
};
let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3([ART, DATA]);
});
afterAll(() => s3.stop());

const text = async (key: string, bucket = ART) => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await r.Body?.transformToString()) ?? '';
};
const keysUnder = async (prefix: string) =>
  ((await s3.client.send(new ListObjectsV2Command({ Bucket: ART, Prefix: prefix }))).Contents ?? []).map(
    (o) => o.Key,
  );
const put = (key: string, body: string, bucket = ART) =>
  s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

/** A mocked cloud whose stack has the sweeps construct, a built image and 64 Spot G vCPUs; each test a new minute. */
let minute = 0;
function cloud(options: { quota?: number } = {}) {
  const m = mockedCloud({ s3: s3.client, discovery: SWEEPS as never });
  m.clock.t = Date.UTC(2026, 11, 1, 13, minute++, 0);
  m.mocks.ecr
    .on(DescribeImagesCommand)
    .resolves({ imageDetails: [{ imageTags: [SWEEPS['sweep-image-tag']] }] });
  m.mocks.quotas
    .on(GetServiceQuotaCommand)
    .resolves({ Quota: { QuotaCode: 'L-3819A6DF', Value: options.quota ?? 64 } });
  m.mocks.batch.on(SubmitJobCommand).resolves({ jobId: 'job-0001', jobName: 'x', jobArn: 'arn:job-0001' });
  return m;
}
const GRID = ['lr=0.003,0.001', 'seed=1..4', 'dataset=fashion-mnist,mnist'];

describe('sweep (submit)', () => {
  test('16 runs: one SubmitJob of an array of 16 on the Spot queue; run.json of each and sweep.json in S3', async () => {
    const { env, mocks, term } = cloud();
    const id = await runSweep(env, { grid: GRID, epochs: 200 });
    expect(id).toMatch(SWEEP_ID_PATTERN);
    expect(term.stdout).toBe(`${id}\n`);
    const submits = mocks.batch.commandCalls(SubmitJobCommand);
    expect(submits).toHaveLength(1);
    expect(submits[0]?.args[0].input).toEqual({
      jobName: `bnn-pynq-${id}`,
      jobQueue: SWEEPS['sweep-job-queue'],
      jobDefinition: SWEEPS['sweep-job-definition'],
      arrayProperties: { size: 16 },
      containerOverrides: { environment: [{ name: 'BNN_SWEEP_ID', value: id }] },
      tags: { 'bnn-pynq:sweep': id },
      propagateTags: true,
    });
    const record = parseSweepRecord(await text(sweepKey(id)));
    expect(record.jobId).toBe('job-0001');
    expect(record.runs).toHaveLength(16);
    expect(record.image).toBe(`${SWEEPS['sweep-image-repository']}:${SWEEPS['sweep-image-tag']}`);
    for (const r of record.runs) {
      expect(r.runId).toMatch(RUN_ID_PATTERN);
      const req = JSON.parse(await text(runKeys(r.runId).request));
      expect(req).toEqual(
        expect.objectContaining({
          runId: r.runId,
          sweepId: id,
          sweepIndex: r.index,
          epochs: 200,
          keepRunning: false,
        }),
      );
      expect(JSON.parse(await text(runStateKey(r.runId))).state).toBe('starting');
    }
    const last = JSON.parse(await text(runKeys(record.runs[15]?.runId as string).request));
    expect(last).toEqual(expect.objectContaining({ learningRateStart: 0.001, seed: 4, dataset: 'mnist' }));
  });

  test('--on-demand uses the on-demand queue and its quota; --max-parallel adds a consumable resource of that size', async () => {
    const { env, mocks } = cloud();
    const id = await runSweep(env, { grid: ['seed=1..3'], epochs: 2, onDemand: true, maxParallel: 2 });
    expect(mocks.quotas.commandCalls(GetServiceQuotaCommand)[0]?.args[0].input).toEqual({
      ServiceCode: 'ec2',
      QuotaCode: 'L-DB2E81BA',
    });
    expect(mocks.batch.commandCalls(CreateConsumableResourceCommand)[0]?.args[0].input).toEqual({
      consumableResourceName: `bnn-pynq-${id}`,
      totalQuantity: 2,
      resourceType: 'REPLENISHABLE',
    });
    const input = mocks.batch.commandCalls(SubmitJobCommand)[0]?.args[0].input;
    expect(input?.jobQueue).toBe(SWEEPS['sweep-job-queue-on-demand']);
    expect(input?.consumableResourcePropertiesOverride).toEqual({
      consumableResourceList: [{ consumableResource: `bnn-pynq-${id}`, quantity: 1 }],
    });
  });

  test('a one-run sweep is a plain job (Batch array jobs need at least 2 children)', async () => {
    const { env, mocks } = cloud();
    await runSweep(env, { grid: ['seed=7'], epochs: 2 });
    expect(mocks.batch.commandCalls(SubmitJobCommand)[0]?.args[0].input.arrayProperties).toBeUndefined();
  });

  test('the image is missing: starts its build, shows progress, waits for it, then submits', async () => {
    const { env, mocks, term } = cloud();
    mocks.ecr.on(DescribeImagesCommand).rejects(
      new ImageNotFoundException({
        message: 'The image with imageId {imageTag:a1b2} does not exist',
        $metadata: {},
      }),
    );
    mocks.codebuild.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    mocks.codebuild
      .on(StartBuildCommand)
      .resolves({ build: { id: 'SweepsImageBuild:b1', buildStatus: 'IN_PROGRESS' } });
    mocks.codebuild
      .on(BatchGetBuildsCommand)
      .resolvesOnce({
        builds: [{ id: 'SweepsImageBuild:b1', buildStatus: 'IN_PROGRESS', currentPhase: 'PROVISIONING' }],
      })
      .resolvesOnce({
        builds: [{ id: 'SweepsImageBuild:b1', buildStatus: 'IN_PROGRESS', currentPhase: 'BUILD' }],
      })
      .resolves({
        builds: [{ id: 'SweepsImageBuild:b1', buildStatus: 'SUCCEEDED', currentPhase: 'COMPLETED' }],
      });
    await runSweep(env, { grid: ['seed=1,2'], epochs: 2 });
    expect(mocks.codebuild.commandCalls(StartBuildCommand)[0]?.args[0].input).toEqual({
      projectName: 'SweepsImageBuild',
    });
    expect(term.stderr).toContain(
      'the training image a1b2c3d4e5f6 is not built yet; started its build (CodeBuild SweepsImageBuild:b1',
    );
    expect(term.stderr).toContain('building the image: provisioning');
    expect(term.stderr).toContain('building the image: build');
    expect(term.stderr).toContain('image built');
    expect(mocks.batch.commandCalls(SubmitJobCommand)).toHaveLength(1);
  });

  test('a build for this tag already runs: no second build is started', async () => {
    const { env, mocks, term } = cloud();
    mocks.ecr
      .on(DescribeImagesCommand)
      .rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
    mocks.codebuild.on(ListBuildsForProjectCommand).resolves({ ids: ['SweepsImageBuild:b0'] });
    const running = {
      id: 'SweepsImageBuild:b0',
      buildStatus: 'IN_PROGRESS' as const,
      environment: {
        type: 'LINUX_CONTAINER' as const,
        image: 'x',
        computeType: 'BUILD_GENERAL1_MEDIUM' as const,
        environmentVariables: [{ name: 'IMAGE_TAG', value: SWEEPS['sweep-image-tag'] }],
      },
    };
    mocks.codebuild
      .on(BatchGetBuildsCommand)
      .resolvesOnce({ builds: [running] })
      .resolves({ builds: [{ ...running, buildStatus: 'SUCCEEDED' }] });
    await runSweep(env, { grid: ['seed=1,2'], epochs: 2 });
    expect(mocks.codebuild.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect(term.stderr).toContain('a build is running');
  });

  test('CodeBuild AccountLimitExceededException → one clear line; nothing written, nothing submitted', async () => {
    const { env, mocks } = cloud();
    mocks.ecr
      .on(DescribeImagesCommand)
      .rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
    mocks.codebuild.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    mocks.codebuild.on(StartBuildCommand).rejects(
      new AccountLimitExceededException({
        message: 'Cannot have more than 1 builds in queue for the account',
        $metadata: {},
      }),
    );
    const before = await keysUnder('sweeps/');
    const err = await runSweep(env, { grid: ['seed=1,2'], epochs: 2 }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      'CodeBuild refused to start the image build: the account\'s limit of concurrently running builds is reached (Cannot have more than 1 builds in queue for the account). Wait for the running builds to end, or ask for more in Service Quotas (CodeBuild, "Concurrently running builds"), then run the sweep again.',
    );
    expect((err as Error).message).not.toContain('\n');
    expect(await keysUnder('sweeps/')).toEqual(before);
    expect(mocks.batch.commandCalls(SubmitJobCommand)).toHaveLength(0);
  });

  test('a failed build names its phase and log', async () => {
    const { env, mocks } = cloud();
    mocks.ecr
      .on(DescribeImagesCommand)
      .rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
    mocks.codebuild.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    mocks.codebuild.on(StartBuildCommand).resolves({ build: { id: 'SweepsImageBuild:b2' } });
    mocks.codebuild.on(BatchGetBuildsCommand).resolves({
      builds: [
        {
          id: 'SweepsImageBuild:b2',
          buildStatus: 'FAILED',
          phases: [
            { phaseType: 'PRE_BUILD', phaseStatus: 'SUCCEEDED' },
            {
              phaseType: 'BUILD',
              phaseStatus: 'FAILED',
              contexts: [{ message: 'COMMAND_EXECUTION_ERROR: Error while executing command: docker build' }],
            },
          ],
          logs: { deepLink: 'https://console.aws.amazon.com/cloudwatch/home#logEvent:b2' },
        },
      ],
    });
    await expect(runSweep(env, { grid: ['seed=1,2'], epochs: 2 })).rejects.toThrow(
      'the image build SweepsImageBuild:b2 FAILED in BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker build; its log: https://console.aws.amazon.com/cloudwatch/home#logEvent:b2',
    );
  });

  test('no Spot G-and-VT quota: refused before anything is built or written', async () => {
    const { env, mocks } = cloud({ quota: 0 });
    await expect(runSweep(env, { grid: ['seed=1,2'], epochs: 2 })).rejects.toThrow(
      /the "All G and VT Spot Instance Requests" quota \(L-3819A6DF\) is 0 vCPUs in eu-west-1; one sweep run needs 4\. .*or use --on-demand/,
    );
    expect(mocks.ecr.commandCalls(DescribeImagesCommand)).toHaveLength(0);
    expect(mocks.batch.commandCalls(SubmitJobCommand)).toHaveLength(0);
  });

  test('a dataset that is not uploaded is named; nothing is submitted', async () => {
    const { env, mocks } = cloud();
    await expect(runSweep(env, { grid: ['dataset=fashion-mnist,my-cats'], epochs: 2 })).rejects.toThrow(
      `dataset my-cats not in s3://${DATA}/datasets/: upload with`,
    );
    expect(mocks.batch.commandCalls(SubmitJobCommand)).toHaveLength(0);
  });

  test('SubmitJob refused: the run files and sweep.json written for it are removed again', async () => {
    const { env, mocks } = cloud();
    mocks.batch
      .on(SubmitJobCommand)
      .rejects(new ClientException({ message: 'Job Queue is disabled', $metadata: {} }));
    const before = await keysUnder('runs/');
    await expect(runSweep(env, { grid: ['seed=1..3'], epochs: 2 })).rejects.toThrow(
      /batch:SubmitJob failed: ClientException: Job Queue is disabled/,
    );
    expect(await keysUnder('runs/')).toEqual(before);
    expect(
      (await keysUnder('sweeps/')).filter((k) =>
        k?.includes(new Date(env.clock.now()).toISOString().slice(11, 16).replace(':', '')),
      ),
    ).toEqual([]);
  });

  test('a stack deployed with -c sweeps=false: one line saying so', async () => {
    const m = mockedCloud({ s3: s3.client });
    await expect(runSweep(m.env, { grid: ['seed=1,2'], epochs: 2 })).rejects.toThrow(
      'stack BnnPynq has no sweeps construct (deployed with -c sweeps=false, or by an older version): run `npx cdk deploy` (sweeps are on by default)',
    );
    expect(discoveryParameter(STACK, 'sweep-job-queue')).toBe('/bnn-pynq/BnnPynq/sweep-job-queue');
  });

  test('--dry-run: the table of runs, no AWS call', () => {
    const { env, mocks, term } = cloud();
    const id = runSweepDryRun(env, { grid: GRID, epochs: 200 });
    const lines = term.stdout.trim().split('\n');
    expect(lines).toHaveLength(18); // header, rule, 16 runs
    expect(lines[2]).toMatch(new RegExp(`^ *0 +${id}-000 +0\\.003 +1 +fashion-mnist$`));
    expect(term.stderr).toContain('dry run: 16 runs on spot GPUs');
    for (const m of [mocks.batch, mocks.ecr, mocks.codebuild, mocks.ssm, mocks.quotas])
      expect(m.calls()).toHaveLength(0);
  });
});

// --- status, cancel, best, report of one submitted sweep ---------------------------------------------------
const progress = (valBoard: number[], testBoard: number) =>
  `${valBoard.map((v, i) => JSON.stringify({ epoch: i + 1, epochs: 3, val_error_board: v, val_error_argmax: v - 0.5, test_error_board: testBoard })).join('\n')}\n`;
const job = (id: string, status: string, extra: Partial<JobDetail> = {}): JobDetail =>
  ({
    jobId: id,
    jobName: 'x',
    jobQueue: 'q',
    status,
    startedAt: undefined,
    jobDefinition: 'd',
    ...extra,
  }) as JobDetail;

describe('sweep status / cancel / best / report', () => {
  let id: string;
  let runIds: string[];
  const T0 = Date.UTC(2026, 11, 1, 14, 0, 0);
  beforeAll(async () => {
    const { env } = cloud();
    id = await runSweep(env, { grid: ['seed=1..5'], epochs: 3 });
    runIds = parseSweepRecord(await text(sweepKey(id))).runs.map((r) => r.runId);
    const [r0, r1, r2, r3] = runIds as [string, string, string, string];
    // 0 succeeded with the lowest VALIDATION error; 3 succeeded with a higher one but the lowest TEST error.
    await put(runStateKey(r0), JSON.stringify({ state: 'succeeded' }));
    await put(runKeys(r0).progress, progress([20, 15, 12.5], 14));
    await put(runKeys(r0).model, 'npz');
    await put(runStateKey(r3), JSON.stringify({ state: 'succeeded' }));
    await put(runKeys(r3).progress, progress([19, 16, 13.9], 9));
    // 1 runs its second attempt after a Spot reclaim; 2 waits to retry after exit 143; 4 failed on bad input.
    await put(runStateKey(r1), JSON.stringify({ state: 'running', message: 'attempt 2 on ready: gpu' }));
    await put(runKeys(r1).progress, progress([21], 20));
    await put(runStateKey(r2), JSON.stringify({ state: 'stopped' }));
    await put(
      runStateKey(must(runIds[4], 'runIds[4]')),
      JSON.stringify({ state: 'failed', message: 'bad input (bnn_train exit 2): label 70' }),
    );
  });
  const mockJobs = (m: ReturnType<typeof cloud>) => {
    m.clock.t = T0;
    const hour = 3_600_000;
    m.mocks.batch.on(DescribeJobsCommand).callsFake(async (input: { jobs: string[] }) => ({
      jobs: input.jobs.map((jid) => {
        const i = Number(jid.split(':')[1]);
        if (i === 0)
          return job(jid, 'SUCCEEDED', { attempts: [{ startedAt: T0 - 2 * hour, stoppedAt: T0 - hour }] });
        if (i === 1)
          return job(jid, 'RUNNING', {
            startedAt: T0 - hour / 2,
            attempts: [
              {
                startedAt: T0 - 2 * hour,
                stoppedAt: T0 - 1.5 * hour,
                statusReason: 'Host EC2 (instance i-0abc) terminated.',
              },
            ],
          });
        if (i === 2)
          return job(jid, 'RUNNABLE', {
            attempts: [{ startedAt: T0 - hour, stoppedAt: T0 - hour / 2, container: { exitCode: 143 } }],
          });
        if (i === 3)
          return job(jid, 'SUCCEEDED', { attempts: [{ startedAt: T0 - 2 * hour, stoppedAt: T0 - hour }] });
        return job(jid, 'FAILED', {
          statusReason: 'Essential container in task exited',
          attempts: [{ startedAt: T0 - hour, stoppedAt: T0 - hour, container: { exitCode: 2 } }],
        });
      }),
    }));
  };

  test('status: one line per run, reconciled from S3 state and Batch job states; one DescribeJobs for 5 runs', async () => {
    const m = cloud();
    mockJobs(m);
    const rows = await runSweepStatus(m.env, id);
    expect(m.mocks.batch.commandCalls(DescribeJobsCommand)).toHaveLength(1);
    expect(m.mocks.batch.commandCalls(DescribeJobsCommand)[0]?.args[0].input.jobs).toEqual(
      [0, 1, 2, 3, 4].map((i) => `job-0001:${i}`),
    );
    expect(rows.map((r) => [r.status.state, r.status.attempts, r.status.bestValidBoard])).toEqual([
      ['succeeded', 1, 12.5],
      ['running', 2, 21],
      ['retrying', 1, undefined],
      ['succeeded', 1, 13.9],
      ['failed', 1, undefined],
    ]);
    expect(rows[2]?.status.detail).toBe('attempt 1 ended: exit 143');
    expect(rows[4]?.status.detail).toBe('bad input (bnn_train exit 2): label 70');
    // Spot estimate: 1 h + (0.5 h + 0.5 h running) + 0.5 h + 1 h + 0 = 3.5 h × $0.21.
    expect(rows.reduce((s, r) => s + r.status.costUsd, 0)).toBeCloseTo(3.5 * 0.21, 6);
    const lines = m.term.stdout.trim().split('\n');
    expect(lines).toHaveLength(7); // header, rule, 5 runs
    expect(lines[2]).toMatch(new RegExp(`^0 +${runIds[0]} +1 +succeeded +3/3 +12\\.50 % @3 +1 +\\$0\\.21`));
    expect(m.term.stderr).toContain(`best so far ${runIds[0]} (12.50 % valid err, board)`);
  });

  test('best: the lowest board-rule VALIDATION error among succeeded runs, not the lowest test error', async () => {
    const m = cloud();
    mockJobs(m);
    expect(await runSweepBest(m.env, id)).toBe(runIds[0]);
    expect(m.term.stdout).toBe(`${runIds[0]}\n`);
    expect(m.term.stderr).toContain('validation error 12.50 % (board rule) at epoch 3; seed=1');
    expect(m.mocks.ssm.commandCalls(StartAutomationExecutionCommand)).toHaveLength(0);
  });

  test('best --publish: converts, verifies and publishes the chosen run through the conversion job', async () => {
    const m = cloud();
    mockJobs(m);
    m.mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-best' });
    m.mocks.ssm.on(GetAutomationExecutionCommand).callsFake(async () => {
      await put(runKeys(must(runIds[0], 'runIds[0]')).verify, verifyJson(must(runIds[0], 'runIds[0]')));
      return { AutomationExecution: SUCCESS };
    });
    await runSweepBest(m.env, id, { publish: true });
    expect(m.mocks.ssm.commandCalls(StartAutomationExecutionCommand)[0]?.args[0].input).toEqual({
      DocumentName: DISCOVERED['convert-document'],
      // network empty: the conversion takes it from the run's run.json (the sweep wrote it).
      Parameters: { runId: [runIds[0]], dataset: ['fashion-mnist'], network: [''], publish: ['true'] },
    });
  });

  test('report: one HTML page with the grid table, every run, and the chosen run marked', async () => {
    const m = cloud();
    mockJobs(m);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-report-'));
    const out = await runSweepReport(m.env, id, { out: path.join(dir, 'r.html') });
    const html = fs.readFileSync(out, 'utf8');
    for (const r of runIds) expect(html).toContain(r);
    expect(html).toContain(
      `<tr class="chosen"><td>0</td><td>${runIds[0]}</td><td>1</td><td>succeeded</td><td>12.50 %</td>`,
    );
    expect(html).toContain('<svg');
    fs.rmSync(dir, { recursive: true });
  });

  test('cancel: CancelJob on the array job, TerminateJob on each running child; sweep.json records it', async () => {
    const m = cloud();
    mockJobs(m);
    await runSweepCancel(m.env, id);
    expect(m.mocks.batch.commandCalls(CancelJobCommand).map((c) => c.args[0].input)).toEqual([
      { jobId: 'job-0001', reason: `bnn-pynq sweep cancel ${id}` },
    ]);
    expect(m.mocks.batch.commandCalls(TerminateJobCommand).map((c) => c.args[0].input.jobId)).toEqual([
      'job-0001:1',
    ]);
    expect(parseSweepRecord(await text(sweepKey(id))).cancelledAt).toBe(new Date(T0).toISOString());
    expect(m.term.stderr).toContain('cancelled 1 queued run(s), terminated 1 running run(s)');
  });

  test('runs: sweep runs show their sweep id', async () => {
    const m = cloud();
    await runRuns(m.env, { limit: 50 });
    const rows = m.term.stdout.trimEnd().split('\n');
    expect(rows[0]?.split(/\s{2,}/).at(-1)).toBe('sweep');
    const row = rows.find((r) => r.startsWith(must(runIds[0], 'runIds[0]')));
    expect(row?.split(/\s{2,}/).at(-1)).toBe(id);
  });

  test('an unknown sweep id and a malformed one are one line each', async () => {
    const m = cloud();
    await expect(runSweepStatus(m.env, '20261201-000000-sweep-ffff')).rejects.toThrow(
      `sweep 20261201-000000-sweep-ffff not found (s3://${ART}/sweeps/20261201-000000-sweep-ffff/sweep.json)`,
    );
    await expect(runSweepStatus(m.env, 'latest')).rejects.toThrow('"latest" is not a sweep id');
  });
});
