import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { createClients } from '../../cloud/clients';
import { discoverStack } from '../../cloud/discovery';
import { FITS, type Fit } from '../../dataset/decode';
import { exportTestSplit } from '../../dataset/export-test';
import { importDataset, PREVIEW_FILE } from '../../dataset/import';
import { INVERT_MODES, type InvertMode } from '../../dataset/polarity';
import { parseSplit, type SplitPercent } from '../../dataset/split';
import { checkUploadTarget, uploadDataset } from '../../dataset/upload';
import { DEFAULT_STACK_NAME, datasetPrefix } from '../../layout';

interface Connection {
  bucket?: string;
  stack: string;
  region?: string;
  profile?: string;
}

interface ImportFlags extends Connection {
  name: string;
  out?: string;
  split: SplitPercent;
  seed: number;
  invert: InvertMode;
  fit: Fit;
  classes?: string;
  skipBad?: boolean;
  force?: boolean;
  upload?: boolean;
}

interface ExportFlags extends Connection {
  out: string;
  from?: string;
  remote?: boolean;
  force?: boolean;
}

const seedArg = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidArgumentError(`--seed must be a whole number 0..4294967295, got "${value}"`);
  return n;
};

const splitArg = (value: string): SplitPercent => {
  try {
    return parseSplit(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

const addConnection = (cmd: Command): Command =>
  cmd
    .option('--bucket <name>', 'the DatasetBucket name (skips discovery through the stack)')
    .option('--stack <name>', 'name of the deployed stack (finds its DatasetBucket)', DEFAULT_STACK_NAME)
    .option('--region <region>', 'AWS region of the stack (default: AWS_REGION or your profile)')
    .option('--profile <name>', 'AWS profile from ~/.aws/config');

/** The same SDK clients and stack discovery (with their error mapping) as every other cloud command. */
const clientsOf = (flags: Connection) => createClients({ region: flags.region, profile: flags.profile });
const datasetS3Client = (flags: Connection) => clientsOf(flags).s3;

async function bucketOf(flags: Connection): Promise<string> {
  if (flags.bucket) return flags.bucket;
  return (await discoverStack(clientsOf(flags), flags.stack, flags.region)).datasetBucket;
}

export function register(program: Command): void {
  const dataset = program
    .command('dataset')
    .description(
      'Bring your own dataset: import a folder of images, preview it, upload it, export its test split',
    );

  addConnection(
    dataset
      .command('import')
      .description(
        'Import a folder (or .zip) with one sub-folder per class into 28×28 white-on-black idx files, classes.txt, dataset.json and preview.png',
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
      .option('--seed <n>', 'seed of the split and of the file order', seedArg, 1)
      .addOption(
        new Option('--invert <mode>', 'make images white-on-black: auto decides from the border pixels')
          .choices(INVERT_MODES)
          .default('auto'),
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
        'replace an existing output folder (and, with --upload, an uploaded dataset of that name)',
      )
      .option('--upload', "upload to the stack's DatasetBucket under datasets/<name>/ (dataset.json last)"),
  ).action(async (source: string, flags: ImportFlags) => {
    const progress = process.stderr.isTTY
      ? (done: number, total: number) => process.stderr.write(`\rdecoding ${done}/${total} images`)
      : undefined;
    // Find the bucket before the work, so a missing stack fails in a second, not after the import.
    const bucket = flags.upload ? await bucketOf(flags) : undefined;
    if (bucket) {
      const s3 = datasetS3Client(flags);
      try {
        await checkUploadTarget(s3, bucket, flags.name, flags.force ?? false);
      } finally {
        s3.destroy();
      }
    }
    const started = performance.now();
    const result = await importDataset({
      source,
      name: flags.name,
      out: flags.out,
      split: flags.split,
      seed: flags.seed,
      invert: flags.invert,
      fit: flags.fit,
      classesFile: flags.classes,
      skipBad: flags.skipBad ?? false,
      force: flags.force ?? false,
      toolVersion: require('../../../package.json').version,
      onProgress: progress,
    });
    if (progress) process.stderr.write('\n');
    const seconds = (performance.now() - started) / 1000;
    const m = result.manifest;
    const out = (s: string) => process.stdout.write(`${s}\n`);
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
      `preview: ${path.join(result.outDir, PREVIEW_FILE)}  (look at it: right half is what the board sees)`,
    );
    if (bucket) {
      const s3 = datasetS3Client(flags);
      try {
        await uploadDataset(s3, bucket, result.outDir, { force: flags.force ?? false });
      } finally {
        s3.destroy();
      }
      out(`uploaded to s3://${bucket}/${datasetPrefix(m.name)} (dataset.json last)`);
      out(`next: npx bnn-pynq train --dataset ${m.name}`);
    } else {
      out(
        `next: upload it with --upload, or aws s3 sync ${result.outDir}/ s3://<DatasetBucket>/${datasetPrefix(m.name)} (dataset.json last)`,
      );
    }
  });

  addConnection(
    dataset
      .command('export-test')
      .description(
        "Write a dataset's test split as plain idx files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) for the board's accuracy notebook",
      )
      .argument('<name>', 'dataset name')
      .requiredOption('--out <dir>', 'folder to create')
      .option('--from <dir>', 'local dataset folder (default: ./datasets/<name>)')
      .option('--remote', "read it from the stack's DatasetBucket instead of a local folder")
      .option('--force', 'replace an existing --out folder'),
  ).action(async (name: string, flags: ExportFlags) => {
    let s3: ReturnType<typeof datasetS3Client> | undefined;
    try {
      const remote = flags.remote || flags.bucket !== undefined;
      if (remote) s3 = datasetS3Client(flags);
      const result = await exportTestSplit({
        name,
        out: flags.out,
        from: flags.from,
        s3: s3 ? { client: s3, bucket: await bucketOf(flags) } : undefined,
        force: flags.force ?? false,
      });
      process.stdout.write(
        `wrote the test split of '${name}' (${result.count} images, from ${result.where}) to ${result.outDir}/: ${result.files.join(', ')}\n` +
          `on the board: copy the folder over and pass ${result.outDir}/t10k-images-idx3-ubyte to classify_mnists (labels in t10k-labels-idx1-ubyte)\n`,
      );
    } finally {
      s3?.destroy();
    }
  });
}
