/**
 * The AWS calls of `bnn-pynq sweep` (Batch, ECR, CodeBuild, Service Quotas), each mapped to one clear line.
 * The decisions (what state a run is in, which run is best) are pure, in lib/sweep/.
 */
import {
  CancelJobCommand,
  CreateConsumableResourceCommand,
  DescribeJobsCommand,
  type JobDetail,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import {
  BatchGetBuildsCommand,
  type Build,
  ListBuildsForProjectCommand,
  StartBuildCommand,
} from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { serviceQuotaValue } from '../preflight/checks';
import { vcpuQuotaFor } from '../preflight/quotas';
import type { Market } from '../sweep/record';
import { aws, awsErrorName, CloudError } from './aws-errors';
import type { CloudClients } from './clients';
import type { SweepResources } from './discovery';

/** `<registry>/<name>` → `<name>`. */
export const repositoryName = (uri: string): string => uri.slice(uri.indexOf('/') + 1);

/** Whether the image `<repository>:<tag>` exists in ECR. */
export async function imageExists(clients: CloudClients, sweeps: SweepResources): Promise<boolean> {
  try {
    const out = await clients.ecr.send(
      new DescribeImagesCommand({
        repositoryName: repositoryName(sweeps.imageRepository),
        imageIds: [{ imageTag: sweeps.imageTag }],
      }),
    );
    return (out.imageDetails ?? []).length > 0;
  } catch (err) {
    if (awsErrorName(err) === 'ImageNotFoundException') return false;
    return aws('ecr:DescribeImages', () => Promise.reject(err));
  }
}

const tagOf = (b: Build): string | undefined =>
  b.environment?.environmentVariables?.find((v) => v.name === 'IMAGE_TAG')?.value;

/** The newest build of the image project for this tag that is still running, if any. */
export async function runningImageBuild(
  clients: CloudClients,
  sweeps: SweepResources,
): Promise<Build | undefined> {
  const list = await aws('codebuild:ListBuildsForProject', () =>
    clients.codebuild.send(
      new ListBuildsForProjectCommand({ projectName: sweeps.imageProject, sortOrder: 'DESCENDING' }),
    ),
  );
  const ids = (list.ids ?? []).slice(0, 10);
  if (ids.length === 0) return undefined;
  const builds = await aws('codebuild:BatchGetBuilds', () =>
    clients.codebuild.send(new BatchGetBuildsCommand({ ids })),
  );
  return (builds.builds ?? []).find(
    (b) => b.buildStatus === 'IN_PROGRESS' && (tagOf(b) ?? sweeps.imageTag) === sweeps.imageTag,
  );
}

/** Starts the image build; CodeBuild's refusals become one line that says what to do. */
export async function startImageBuild(clients: CloudClients, sweeps: SweepResources): Promise<Build> {
  try {
    const out = await clients.codebuild.send(new StartBuildCommand({ projectName: sweeps.imageProject }));
    if (!out.build?.id) throw new CloudError('failed', 'codebuild:StartBuild returned no build id');
    return out.build;
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'AccountLimitExceededException') {
      throw new CloudError(
        'failed',
        `CodeBuild refused to start the image build: the account's limit of concurrently running builds is reached (${(err as Error).message}). Wait for the running builds to end, or ask for more in Service Quotas (CodeBuild, "Concurrently running builds"), then run the sweep again.`,
        err,
      );
    }
    if (name === 'ResourceNotFoundException') {
      throw new CloudError(
        'stack-not-deployed',
        `the image build project ${sweeps.imageProject} does not exist: run \`npx cdk deploy\` (sweeps are on by default)`,
        err,
      );
    }
    return aws('codebuild:StartBuild', () => Promise.reject(err));
  }
}

export async function getBuild(clients: CloudClients, id: string): Promise<Build> {
  const out = await aws('codebuild:BatchGetBuilds', () =>
    clients.codebuild.send(new BatchGetBuildsCommand({ ids: [id] })),
  );
  const build = out.builds?.[0];
  if (!build) throw new CloudError('not-found', `CodeBuild has no build ${id}`);
  return build;
}

/** The vCPU quota the sweep's queue needs (G and VT, Spot or on-demand) and its current value. */
export async function gpuQuota(clients: CloudClients, market: Market) {
  const quota = vcpuQuotaFor('g4dn.xlarge', market === 'spot');
  if (!quota) throw new Error('no vCPU quota for g4dn');
  const value = await aws('servicequotas:GetServiceQuota', () => serviceQuotaValue(clients, quota.code));
  return { quota, value };
}

export interface SubmitRequest {
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  sweepId: string;
  size: number;
  /** At most this many runs at once (a Batch consumable resource of this sweep). */
  maxParallel?: number;
}

/** Submits the ONE job of a sweep: an array job of `size` children (a plain job for a single run). */
export async function submitSweepJob(clients: CloudClients, r: SubmitRequest): Promise<string> {
  let consumable: { consumableResourceList: { consumableResource: string; quantity: number }[] } | undefined;
  if (r.maxParallel !== undefined) {
    const name = `bnn-pynq-${r.sweepId}`;
    await aws('batch:CreateConsumableResource', () =>
      clients.batch.send(
        new CreateConsumableResourceCommand({
          consumableResourceName: name,
          totalQuantity: r.maxParallel,
          resourceType: 'REPLENISHABLE',
        }),
      ),
    );
    consumable = { consumableResourceList: [{ consumableResource: name, quantity: 1 }] };
  }
  const out = await aws('batch:SubmitJob', () =>
    clients.batch.send(
      new SubmitJobCommand({
        jobName: r.jobName,
        jobQueue: r.jobQueue,
        jobDefinition: r.jobDefinition,
        ...(r.size > 1 ? { arrayProperties: { size: r.size } } : {}),
        containerOverrides: { environment: [{ name: 'BNN_SWEEP_ID', value: r.sweepId }] },
        ...(consumable ? { consumableResourcePropertiesOverride: consumable } : {}),
        tags: { 'bnn-pynq:sweep': r.sweepId },
        propagateTags: true,
      }),
    ),
  );
  if (!out.jobId) throw new CloudError('failed', 'batch:SubmitJob returned no job id');
  return out.jobId;
}

/** The Batch job of every run: children `<jobId>:<index>` (or the job itself), 100 ids per call, calls in parallel. */
export async function describeRunJobs(
  clients: CloudClients,
  jobId: string,
  size: number,
): Promise<(JobDetail | undefined)[]> {
  const ids = size > 1 ? Array.from({ length: size }, (_, i) => `${jobId}:${i}`) : [jobId];
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
  const pages = await Promise.all(
    chunks.map((jobs) =>
      aws('batch:DescribeJobs', () => clients.batch.send(new DescribeJobsCommand({ jobs }))),
    ),
  );
  const byId = new Map<string, JobDetail>();
  for (const page of pages) for (const j of page.jobs ?? []) if (j.jobId) byId.set(j.jobId, j);
  return ids.map((id) => byId.get(id));
}

/** Cancels what has not started (the parent cancels its queued children) and terminates what runs. */
export async function stopSweepJobs(
  clients: CloudClients,
  jobId: string,
  running: string[],
  reason: string,
): Promise<void> {
  await aws('batch:CancelJob', () => clients.batch.send(new CancelJobCommand({ jobId, reason })));
  await Promise.all(
    running.map((id) =>
      aws('batch:TerminateJob', () => clients.batch.send(new TerminateJobCommand({ jobId: id, reason }))),
    ),
  );
}
