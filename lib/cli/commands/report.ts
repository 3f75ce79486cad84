import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { discoverStack } from '../../cloud/discovery';
import { assertRunId, readRun, readText } from '../../cloud/runs';
import { InputFormatError, UserError } from '../../errors';
import { fsError } from '../../fs-errors';
import { DATASET_PREVIEW_FILE, datasetPrefix, runParamsPrefix } from '../../layout';
import { REPORT_GENERATOR_TAG, type ReportInput, renderReport } from '../../report/html';
import { parseProgress, parseVerify } from '../../report/progress';
import { checkNoOverlap, type OutputKind, writeFileAtomic } from '../../safe-output';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions, resolveIn } from '../env';

export interface ReportOptions {
  out?: string;
  /** A local copy of the run folder (progress.jsonl, verify.json, run.json, state.json): no AWS needed. */
  local?: string;
}

/** Builds the report input from a local run folder (e.g. `aws s3 sync s3://<artifacts>/runs/<id>/ dir`). */
export function reportInputFromFolder(runId: string, dir: string, generatedAt: string): ReportInput {
  const progressFile = path.join(dir, 'progress.jsonl');
  /** A file of the run folder: undefined when absent; a folder or unreadable file is one clear error. */
  const read = (name: string): string | undefined => {
    const file = path.join(dir, name);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EISDIR')
        throw new UserError(
          `${file}: is a folder, not a file; --local must be a copy of runs/<runId>/ (aws s3 sync s3://<artifacts>/runs/<runId>/ <dir>)`,
        );
      throw fsError(err, { path: file, what: '--local' });
    }
  };
  const progressText = read('progress.jsonl');
  if (progressText === undefined) {
    throw new UserError(
      `${progressFile} does not exist: --local must be a copy of runs/<runId>/ holding progress.jsonl`,
    );
  }
  const verifyText = read('verify.json');
  let verify: ReportInput['verify'];
  if (verifyText !== undefined) {
    try {
      verify = parseVerify(verifyText, path.join(dir, 'verify.json'));
    } catch (err) {
      throw new InputFormatError(path.join(dir, 'verify.json'), (err as Error).message.replace(/^.*?: /, ''));
    }
  }
  const json = (name: string): Record<string, unknown> | undefined => {
    const t = read(name);
    try {
      return t === undefined ? undefined : JSON.parse(t);
    } catch {
      return undefined;
    }
  };
  const request = json('run.json');
  const state = json('state.json');
  return {
    runId,
    dataset: typeof request?.dataset === 'string' ? request.dataset : undefined,
    network: typeof request?.network === 'string' ? request.network : undefined,
    requestedEpochs:
      request?.epochs !== undefined && request.epochs !== null ? Number(request.epochs) : undefined,
    state: typeof state?.state === 'string' ? state.state : undefined,
    progress: parseProgress(progressText),
    verify,
    classes: read('classes.txt')?.split('\n').filter(Boolean),
    generatedAt,
  };
}

async function reportInputFromS3(env: CloudEnv, runId: string): Promise<ReportInput> {
  const stack = await discoverStack(env.clients, env.stackName, env.region);
  const run = await readRun(env.clients, stack.artifactBucket, runId);
  const dataset = run.request?.dataset;
  let classes: string[] | undefined;
  let previewPng: Uint8Array | undefined;
  if (dataset) {
    classes = (
      await readText(env.clients, stack.artifactBucket, `${runParamsPrefix(runId, dataset)}classes.txt`)
    )
      ?.split('\n')
      .filter(Boolean);
    try {
      const out = await env.clients.s3.send(
        new GetObjectCommand({
          Bucket: stack.datasetBucket,
          Key: `${datasetPrefix(dataset)}${DATASET_PREVIEW_FILE}`,
        }),
      );
      previewPng = await out.Body?.transformToByteArray();
    } catch {
      // A preview exists only for imported datasets; the report is complete without it.
    }
  }
  return {
    runId,
    dataset,
    requestedEpochs: run.request?.epochs,
    state: run.status?.state === 'unknown' ? run.status.raw : run.status?.state,
    progress: run.progress,
    verify: run.verify,
    classes,
    previewPng,
    generatedAt: new Date(env.clock.now()).toISOString(),
  };
}

/** `report --out` replaces an existing file only when it is a report this command wrote. */
export const REPORT_KIND: OutputKind = {
  name: 'bnn-pynq report',
  ownsContent: (bytes) => bytes.toString('utf8').includes(REPORT_GENERATOR_TAG),
};

/** `bnn-pynq report <runId>`: writes one self-contained HTML file and prints its path. */
export async function runReport(env: CloudEnv, runId: string, options: ReportOptions): Promise<string> {
  assertRunId(runId);
  await checkNoOverlap(
    [options.local ? { path: options.local, what: '--local' } : undefined],
    [{ path: options.out ?? `report-${runId}.html`, what: '--out' }],
    { cwd: env.cwd },
  );
  const input = options.local
    ? reportInputFromFolder(runId, resolveIn(env, options.local), new Date(env.clock.now()).toISOString())
    : await reportInputFromS3(env, runId);
  const out = path.resolve(env.cwd ?? process.cwd(), options.out ?? `report-${runId}.html`);
  await writeFileAtomic(out, renderReport(input), { kind: REPORT_KIND, what: '--out' });
  env.term.out(`${out}\n`);
  env.term.err(
    `report: ${input.progress.points.length} epoch(s)${input.verify ? ', verified confusion matrix' : ', no verify.json yet'}; open it in a browser\n`,
  );
  return out;
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('report <runId>')
      .description(
        'Write one self-contained HTML report: training curves (both decision rules) and the verified confusion matrix',
      )
      .option(
        '--out <file>',
        'where to write it (default: ./report-<runId>.html); an existing file is replaced only if it is a report bnn-pynq wrote',
      )
      .option('--local <dir>', 'read a local copy of runs/<runId>/ instead of S3 (no AWS access needed)'),
  ).action(async (runId: string, options: ReportOptions & CloudOptions) => {
    await runReport(ctx.cloudEnv(options), runId, options);
  });
}
