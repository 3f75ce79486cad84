import type { Command } from 'commander';
import { discoverStack } from '../../cloud/discovery';
import { listRunIds, objectExists, readRun } from '../../cloud/runs';
import { DEFAULT_NETWORK, MANIFEST_FILE, runParamsPrefix } from '../../layout';
import { listPublished } from '../../param-folder/s3';
import { totalEpochs } from '../../report/progress';
import { positiveInt } from '../args';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions } from '../env';
import { formatPercent, renderTable } from '../ui/format';

/** `bnn-pynq runs`: a table of the newest runs, newest first. */
export async function runRuns(env: CloudEnv, options: { limit?: number } = {}): Promise<void> {
  const { clients, term } = env;
  const stack = await discoverStack(clients, env.stackName, env.region);
  const ids = (await listRunIds(clients, stack.artifactBucket)).slice(0, options.limit ?? 20);
  if (ids.length === 0) {
    term.err('no runs yet: start one with `bnn-pynq train`\n');
    return;
  }
  const published = await listPublished(clients.s3, stack.artifactBucket);
  // Runs are read in parallel (a handful of small GETs each); the table keeps the newest-first order.
  const rows = await Promise.all(
    ids.map(async (id) => {
      const run = await readRun(clients, stack.artifactBucket, id);
      const mine = published.filter((p) => p.manifest.runId === id);
      const dataset = run.request?.dataset ?? mine[0]?.dataset ?? '?';
      // run.json names the overlay the run trains (absent in runs from before there was a choice: lfcW1A1)
      const network =
        run.request?.network ?? (run.request?.dataset ? undefined : mine[0]?.network) ?? DEFAULT_NETWORK;
      const last = run.progress.points.at(-1);
      const total = totalEpochs(run.progress, run.request?.epochs);
      const best = run.progress.points.reduce<number | undefined>(
        (b, p) =>
          p.bestValidError !== undefined && (b === undefined || p.bestValidError < b) ? p.bestValidError : b,
        undefined,
      );
      // Test error: the verified board accuracy when the run was converted, else the training loop's board rule.
      const testError = run.verify
        ? 100 - run.verify.accuracy
        : (last?.testError.board ?? last?.testError.argmax);
      const isPublished = mine.filter((p) => p.network === network);
      const hasParams =
        dataset !== '?' &&
        (await objectExists(
          clients,
          stack.artifactBucket,
          `${runParamsPrefix(id, dataset, network)}${MANIFEST_FILE}`,
        ));
      return [
        id,
        dataset,
        network,
        last ? `${last.epoch}${total ? `/${total}` : ''}` : '0',
        formatPercent(best),
        `${formatPercent(testError)}${run.verify ? ' (verified)' : ''}`,
        run.status?.state === 'unknown'
          ? (run.status.raw ?? '?')
          : (run.status?.state ?? (run.hasModel ? 'succeeded?' : '?')),
        isPublished.length > 0 ? 'yes (current)' : hasParams ? 'converted' : '-',
        // A run of `bnn-pynq sweep` (run.json sweepId): converted and verified, published only by `sweep best --publish`.
        typeof run.request?.sweepId === 'string' ? run.request.sweepId : '-',
      ];
    }),
  );
  term.out(
    renderTable(
      [
        'run',
        'dataset',
        'network',
        'epochs',
        'best valid err',
        'test err',
        'state',
        'params published',
        'sweep',
      ],
      rows,
    ),
  );
}

export function register(program: Command, ctx: CliContext): void {
  addCloudOptions(
    program
      .command('runs')
      .description(
        'List training runs: id, dataset, epochs done, best validation error, test error, state, params',
      )
      .option('--limit <n>', 'show the newest n runs', positiveInt('--limit'), 20),
  ).action(async (options: CloudOptions & { limit: number }) => runRuns(ctx.cloudEnv(options), options));
}
