import type { Command } from 'commander';
import { CloudError } from '../../cloud/aws-errors';
import { discoverStack } from '../../cloud/discovery';
import { boardCopyCommands, checkFetchDestination, type FetchResult, fetchParams } from '../../cloud/fetch';
import { assertRunId, readRun } from '../../cloud/runs';
import { UserError } from '../../errors';
import {
  DATASET_NAME_PATTERN,
  DEFAULT_NETWORK,
  type Network,
  PARAMS_ROOT_PREFIX,
  publishedParamsPrefix,
  runParamsPrefix,
  runParamsRoot,
} from '../../layout';
import { listS3ParamFolders, type ParamFolderRef } from '../../param-folder/s3';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions, resolveIn } from '../env';
import { formatBytes, formatPercent } from '../ui/format';
import { paint } from '../ui/terminal';

export interface FetchOptions {
  run?: string;
  out: string;
  dataset?: string;
  /** The artifact bucket, given directly: no stack discovery (only S3 read access needed). */
  bucket?: string;
}

function summarize(env: CloudEnv, r: FetchResult, label: string): void {
  const { term } = env;
  const m = r.manifest;
  term.out(
    `${label} ${m.dataset}/${m.network}${m.runId ? ` from run ${m.runId}` : ''}${m.accuracy !== null ? `, board accuracy ${formatPercent(m.accuracy)}` : ''} → ${r.folder}\n`,
  );
  const changes = [
    ...r.added.map((p) => `  + ${p}`),
    ...r.changed.map((p) => `  ~ ${p}`),
    ...r.removed.map((p) => `  - ${p}`),
  ];
  if (changes.length === 0) {
    term.out(`  up to date: all ${r.unchanged.length} files match the manifest, nothing downloaded\n`);
    return;
  }
  const shown = changes.slice(0, 12);
  term.out(`${shown.join('\n')}\n`);
  if (changes.length > shown.length) term.out(`  … and ${changes.length - shown.length} more\n`);
  term.out(
    `  ${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed, ${r.unchanged.length} unchanged (${formatBytes(r.bytesDownloaded)} downloaded); every file checked against manifest.json\n`,
  );
}

/** `bnn-pynq fetch`: download published params (or a run's) into `<out>/<dataset>/<network>/`, every overlay. */
export async function runFetch(env: CloudEnv, options: FetchOptions): Promise<FetchResult[]> {
  const { clients, term } = env;
  if (options.dataset !== undefined && !DATASET_NAME_PATTERN.test(options.dataset)) {
    throw new UserError(
      `--dataset "${options.dataset}" is not a dataset name (lower-case letters, digits, dashes)`,
    );
  }
  const out = resolveIn(env, options.out);
  // Local output rules first: a bad --out is one line before any credentials or network are needed.
  await checkFetchDestination(out, { dataset: options.dataset, cwd: env.cwd });
  const bucket = options.bucket ?? (await discoverStack(clients, env.stackName, env.region)).artifactBucket;
  const sources: Array<{ prefix: string; dataset: string; network: Network; label: string }> = [];
  const only = (folders: ParamFolderRef[]) =>
    folders.filter((f) => options.dataset === undefined || f.dataset === options.dataset);
  if (options.run) {
    assertRunId(options.run);
    const folders = only(await listS3ParamFolders(clients.s3, bucket, runParamsRoot(options.run)));
    if (folders.length === 0) {
      const run = await readRun(clients, bucket, options.run, { verify: false });
      throw new CloudError(
        'not-found',
        `run ${options.run} has no params yet (state: ${run.status?.state ?? 'unknown'}): convert it with \`bnn-pynq convert-run ${options.run}\``,
      );
    }
    for (const { dataset, network } of folders) {
      sources.push({
        prefix: runParamsPrefix(options.run, dataset, network),
        dataset,
        network,
        label: `run ${options.run}`,
      });
    }
  } else {
    const folders = only(await listS3ParamFolders(clients.s3, bucket, PARAMS_ROOT_PREFIX));
    // --dataset with nothing published: the default network's folder, so the error names the missing manifest
    if (folders.length === 0 && options.dataset !== undefined)
      folders.push({ dataset: options.dataset, network: DEFAULT_NETWORK });
    if (folders.length === 0) {
      throw new CloudError(
        'not-found',
        `nothing published in s3://${bucket}/params/ yet: train (\`bnn-pynq train\`) and convert (\`bnn-pynq convert-run <runId>\`) first`,
      );
    }
    for (const { dataset, network } of folders) {
      sources.push({
        prefix: publishedParamsPrefix(dataset, network),
        dataset,
        network,
        label: 'published params',
      });
    }
  }
  const results: FetchResult[] = [];
  for (const s of sources) {
    const r = await fetchParams(clients, { bucket, ...s }, out, { cwd: env.cwd });
    summarize(env, r, options.run ? 'fetched' : 'fetched published');
    results.push(r);
  }
  term.out(
    `\n${paint(term, 'bold', 'copy to the board')} (PYNQ ≥ 2.3 path; older images: check with \`bnn-pynq board check <board>\`):\n`,
  );
  for (const r of results)
    for (const c of boardCopyCommands(options.out, r.manifest.dataset)) term.out(`  ${c}\n`);
  return results;
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('fetch')
      .description(
        "Download the published params (or a run's) into <out>/<dataset>/<network>/ for every overlay: only changed files, every file checked against the manifest, replaced atomically",
      )
      .option('--run <runId>', "fetch this run's params instead of the published ones")
      .option('--dataset <name>', 'only this dataset (default: every published dataset)')
      .option(
        '--out <dir>',
        'local params folder; an existing <out>/<dataset>/<network>/ is replaced only if it holds nothing but param files (*.bin, classes.txt, manifest.json)',
        './params',
      )
      .option(
        '--bucket <name>',
        'read this artifact bucket directly (no stack lookup; needs only S3 read access)',
      ),
  ).action(async (options: FetchOptions & CloudOptions) => {
    await runFetch(ctx.cloudEnv(options), options);
  });
}
