import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { discoverStack } from '../../cloud/discovery';
import { FITS, type Fit } from '../../dataset/decode';
import { EXPORTED_TEST_FILES, exportTestSplit } from '../../dataset/export-test';
import { IMAGE_FORMATS, type ImageFormat, importDataset, PREVIEW_FILE } from '../../dataset/import';
import { INVERT_MODES, type InvertMode } from '../../dataset/polarity';
import { parseSplit, type SplitPercent } from '../../dataset/split';
import { checkUploadTarget, uploadDataset } from '../../dataset/upload';
import { datasetPrefix, localDatasetDir } from '../../layout';
import { nonNegativeInt } from '../args';
import { addCloudOptions, type CliContext, type CloudEnv, type CloudOptions, resolveIn } from '../env';

interface Connection {
  /** The DatasetBucket, given directly: no stack discovery. */
  bucket?: string;
}

export interface ImportFlags extends Connection {
  name: string;
  out?: string;
  split: SplitPercent;
  seed: number;
  format: ImageFormat;
  /** Unset: `auto` for idx; a cifar import refuses any --invert but `no`. */
  invert?: InvertMode;
  fit: Fit;
  classes?: string;
  skipBad?: boolean;
  force?: boolean;
  upload?: boolean;
}

export interface ExportFlags extends Connection {
  out: string;
  from?: string;
  remote?: boolean;
  force?: boolean;
}

const splitArg = (value: string): SplitPercent => {
  try {
    return parseSplit(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

const addConnection = (cmd: Command): Command =>
  addCloudOptions(
    cmd.option('--bucket <name>', 'the DatasetBucket name (skips discovery through the stack)'),
  );

/** The same SDK clients and stack discovery (with their error mapping) as every other cloud command. */
async function bucketOf(env: CloudEnv, flags: Connection): Promise<string> {
  if (flags.bucket) return flags.bucket;
  return (await discoverStack(env.clients, env.stackName, env.region)).datasetBucket;
}

/** `bnn-pynq dataset import <source>`: idx files, classes, manifest and preview; with --upload, to S3. */
export async function runDatasetImport(env: CloudEnv, source: string, flags: ImportFlags): Promise<void> {
  const { term } = env;
  const progress = term.live
    ? (done: number, total: number) => term.err(`\rdecoding ${done}/${total} images`)
    : undefined;
  // Find the bucket before the work, so a missing stack fails in a second, not after the import.
  const bucket = flags.upload ? await bucketOf(env, flags) : undefined;
  if (bucket) await checkUploadTarget(env.clients.s3, bucket, flags.name, flags.force ?? false);
  const started = performance.now();
  const result = await importDataset({
    source: resolveIn(env, source),
    name: flags.name,
    out: resolveIn(env, flags.out ?? localDatasetDir(flags.name)),
    cwd: env.cwd,
    split: flags.split,
    seed: flags.seed,
    format: flags.format,
    invert: flags.invert ?? (flags.format === 'cifar' ? 'no' : 'auto'),
    fit: flags.fit,
    classesFile: flags.classes === undefined ? undefined : resolveIn(env, flags.classes),
    skipBad: flags.skipBad ?? false,
    force: flags.force ?? false,
    toolVersion: require('../../../package.json').version,
    onProgress: progress,
  });
  if (progress) term.err('\n');
  const seconds = (performance.now() - started) / 1000;
  const m = result.manifest;
  const out = (s: string) => term.out(`${s}\n`);
  out(
    `imported ${m.source.imported} images of ${m.classes.length} classes from ${source} into ${result.outDir}/ in ${seconds.toFixed(1)} s (${(m.source.imported / seconds).toFixed(0)} images/s)`,
  );
  for (const note of result.notes) out(`  ${note}`);
  out(
    `  split ${m.split.percent.join('/')} (seed ${m.split.seed}, stratified): train ${m.splits.train}, validation ${m.splits.validation}, test ${m.splits.test}`,
  );
  const width = Math.max(5, ...m.classes.map((c) => c.length));
  out(
    `  ${'label'.padStart(5)}  ${'class'.padEnd(width)}  ${'train'.padStart(7)} ${'valid'.padStart(7)} ${'test'.padStart(7)}`,
  );
  for (const c of m.perClass)
    out(
      `  ${String(c.label).padStart(5)}  ${c.class.padEnd(width)}  ${String(c.train).padStart(7)} ${String(c.validation).padStart(7)} ${String(c.test).padStart(7)}`,
    );
  out(
    `preview: ${path.join(result.outDir, PREVIEW_FILE)}  (look at it: ${flags.format === 'cifar' ? 'the colour images exactly as the board will read them' : 'right half is what the board sees'})`,
  );
  if (bucket) {
    await uploadDataset(env.clients.s3, bucket, result.outDir, { force: flags.force ?? false });
    out(`uploaded to s3://${bucket}/${datasetPrefix(m.name)} (dataset.json last)`);
    out(
      `next: npx bnn-pynq train --dataset ${m.name}${flags.format === 'cifar' ? ' --network cnvW1A1 (or cnvW1A2, cnvW2A2)' : ''}`,
    );
  } else {
    out(
      `next: upload it with --upload, or aws s3 sync ${result.outDir}/ s3://<DatasetBucket>/${datasetPrefix(m.name)} (dataset.json last)`,
    );
  }
}

/** `bnn-pynq dataset export-test <name>`: the test split as plain idx files, from a local folder or S3. */
export async function runDatasetExportTest(env: CloudEnv, name: string, flags: ExportFlags): Promise<void> {
  const remote = flags.remote || flags.bucket !== undefined;
  const result = await exportTestSplit({
    name,
    out: resolveIn(env, flags.out),
    cwd: env.cwd,
    from: resolveIn(env, flags.from ?? localDatasetDir(name)),
    s3: remote ? { client: env.clients.s3, bucket: await bucketOf(env, flags) } : undefined,
    force: flags.force ?? false,
  });
  const cifar = result.files.includes(EXPORTED_TEST_FILES.records);
  env.term.out(
    `wrote the test split of '${name}' (${result.count} images, from ${result.where}) to ${result.outDir}/: ${result.files.join(', ')}\n` +
      (cifar
        ? `on the board: copy the folder over and pass ${result.outDir}/${EXPORTED_TEST_FILES.records} to CnvClassifier(...).classify_cifars (each record carries its label byte); here: bnn-pynq verify <param folder> --images ${result.outDir}/${EXPORTED_TEST_FILES.records}\n`
        : `on the board: copy the folder over and pass ${result.outDir}/t10k-images-idx3-ubyte to classify_mnists (labels in t10k-labels-idx1-ubyte)\n`),
  );
}

/** Runs a dataset command, then closes its S3 client's sockets (uploads leave keep-alive ones open). */
async function withS3Closed(env: CloudEnv, run: (env: CloudEnv) => Promise<void>): Promise<void> {
  try {
    await run(env);
  } finally {
    env.clients.s3.destroy();
  }
}

export function register(program: Command, ctx: CliContext): void {
  const dataset = program
    .command('dataset')
    .description(
      'Bring your own dataset: import a folder of images, preview it, upload it, export its test split',
    );

  addConnection(
    dataset
      .command('import')
      .description(
        'Import a folder (or .zip) with one sub-folder per class into 28×28 white-on-black idx files for the LFC (or, with --format cifar, 32×32 RGB CIFAR-10 binary records for the CNV), classes.txt, dataset.json and preview.png',
      )
      .argument(
        '<source>',
        'folder or .zip: <source>/<class>/<image> (PNG, JPEG, WebP, GIF, TIFF, BMP; any size, colour or grey)',
      )
      .requiredOption(
        '--name <name>',
        'dataset name (lower-case letters, digits, dashes): what `train --dataset` uses',
      )
      .option('--out <dir>', 'output folder (default: ./datasets/<name>)')
      .addOption(
        new Option('--split <train/validation/test>', 'percentages per split, stratified by class')
          .argParser(splitArg)
          .default([80, 10, 10], '80/10/10'),
      )
      .option(
        '--seed <n>',
        'seed of the split and of the file order',
        nonNegativeInt('--seed', 0xffffffff),
        1,
      )
      .addOption(
        new Option(
          '--format <format>',
          'idx: 28×28 grey idx files for lfcW1A1/lfcW1A2; cifar: 32×32 RGB CIFAR-10 binary records (data_batch_N.bin, test_batch.bin) for cnvW1A1/cnvW1A2/cnvW2A2',
        )
          .choices(IMAGE_FORMATS)
          .default('idx'),
      )
      .addOption(
        new Option(
          '--invert <mode>',
          'idx only: make images white-on-black; auto (the default) decides from the border pixels',
        ).choices(INVERT_MODES),
      )
      .addOption(
        new Option('--fit <mode>', 'non-square images: contain (pad), cover (crop), fill (stretch)')
          .choices(FITS)
          .default('contain'),
      )
      .option('--classes <file>', 'class names in label order, one per line (default: folder names, sorted)')
      .option('--skip-bad', 'import without unreadable or corrupt images (default: stop and list them)')
      .option(
        '--force',
        'replace an existing output folder, only if it is a dataset folder import wrote (its dataset.json and nothing but its files); also, with --upload, an uploaded dataset of that name',
      )
      .option('--upload', "upload to the stack's DatasetBucket under datasets/<name>/ (dataset.json last)"),
  ).action(async (source: string, flags: ImportFlags & CloudOptions) =>
    withS3Closed(ctx.cloudEnv(flags), (env) => runDatasetImport(env, source, flags)),
  );

  addConnection(
    dataset
      .command('export-test')
      .description(
        "Write a dataset's test split for the board: plain idx files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) for classify_mnists, or a CNV dataset's test_batch.bin (CIFAR-10 binary records) for classify_cifars",
      )
      .argument('<name>', 'dataset name')
      .requiredOption('--out <dir>', 'folder to create')
      .option('--from <dir>', 'local dataset folder (default: ./datasets/<name>)')
      .option('--remote', "read it from the stack's DatasetBucket instead of a local folder")
      .option(
        '--force',
        'replace an existing --out folder, only if it holds nothing but the files export-test writes (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, test_batch.bin, classes.txt)',
      ),
  ).action(async (name: string, flags: ExportFlags & CloudOptions) =>
    withS3Closed(ctx.cloudEnv(flags), (env) => runDatasetExportTest(env, name, flags)),
  );
}
