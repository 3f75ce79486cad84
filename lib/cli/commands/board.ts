import type { Command } from 'commander';
import { Option } from 'commander';
import { readCifarRecords } from '../../bnn/cifar';
import { readInputFile } from '../../bnn/files';
import { readIdxImages, readIdxLabels } from '../../bnn/idx';
import { decodeOverlayFiles } from '../../bnn/overlay-params';
import { createOverlaySimulator, type SimulatorInput } from '../../bnn/overlay-simulate';
import { OVERLAY_NAMES, OVERLAYS, type OverlayName } from '../../bnn/overlays';
import { checkImageShape } from '../../bnn/simulate';
import { checkBoard, formatCheck, runOnBoard } from '../../board/board';

import { paramSetFromRun, type TestFiles, testFilesFromBucket } from '../../board/sources';
import type { BoardTarget } from '../../board/ssh';
import { summarize } from '../../board/validate';
import { discoverStack } from '../../cloud/discovery';
import { UserError } from '../../errors';
import { boardParamFolders } from '../../param-folder/board';
import { aNetwork, checkDatasetName, type ParamSet } from '../../param-folder/layout';
import { loadLocalParamSet } from '../../param-folder/local';
import { checkNoOverlap, PREDICTIONS_KIND, writeFileAtomic } from '../../safe-output';
import { collect } from '../args';
import {
  addCloudOptions,
  type CliContext,
  type CloudEnv,
  type CloudOptions,
  type CommandEnv,
  resolveIn,
} from '../env';

export interface SshFlags {
  user?: string;
  port?: string;
  identity?: string;
  sshConfig?: string;
  sshOption?: string[];
  sudo?: boolean;
  python?: string;
}

export interface PushFlags extends SshFlags {
  params?: string;
  run?: string;
  dataset?: string;
  network?: OverlayName;
}

export interface ValidateFlags extends SshFlags {
  dataset: string;
  network?: OverlayName;
  images?: string;
  labels?: string;
  predictionsOut?: string;
}

function withSsh(cmd: Command): Command {
  return cmd
    .option('--user <name>', 'login user on the board (default: User from ~/.ssh/config, else xilinx)')
    .option('--port <n>', 'ssh port (default: from ~/.ssh/config, else 22)')
    .option('--identity <file>', 'private key for ssh -i')
    .option('--ssh-config <file>', 'ssh config file to use instead of ~/.ssh/config (ssh -F)')
    .option('--ssh-option <Key=Value>', 'extra ssh -o option (repeatable)', collect)
    .option('--sudo', 'run the board-side steps with sudo -n (the package folder is root-owned on PYNQ)')
    .option('--python <path>', "the board's Python that has the bnn package", 'python3');
}

function target(host: string, o: SshFlags): BoardTarget {
  let port: number | undefined;
  if (o.port !== undefined) {
    port = Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UserError(`--port ${o.port}: not a port number (1..65535)`);
  }
  return {
    host,
    user: o.user,
    port,
    identity: o.identity,
    configFile: o.sshConfig,
    options: o.sshOption,
    sudo: Boolean(o.sudo),
    python: o.python,
  };
}

const stackOf = (env: CloudEnv) => discoverStack(env.clients, env.stackName, env.region);

/** `bnn-pynq board check <host>`: the pre-flight report; the last problem is the error. */
export async function runBoardCheck(env: CommandEnv, host: string, o: SshFlags): Promise<void> {
  const out = (line: string) => env.term.out(`${line}\n`);
  const report = await checkBoard(target(host, o));
  const { lines, problems } = formatCheck(report, Boolean(o.sudo));
  for (const l of lines) out(l);
  const last = problems.at(-1);
  if (last !== undefined) {
    for (const p of problems.slice(0, -1)) env.term.err(`error: ${p}\n`);
    throw new UserError(last);
  }
  out('ready       yes: `bnn-pynq board push` can install param sets here');
}

/** `bnn-pynq board push <host>`: installs a local or a run's param set atomically on the board. */
export async function runBoardPush(env: CloudEnv, host: string, o: PushFlags): Promise<void> {
  const out = (line: string) => env.term.out(`${line}\n`);
  if (o.dataset !== undefined) checkDatasetName(o.dataset);
  if (Boolean(o.params) === Boolean(o.run))
    throw new UserError('give exactly one of --params <dir> (a local folder) or --run <id> (from S3)');
  let set: ParamSet;
  if (o.params) set = loadLocalParamSet(resolveIn(env, o.params), o.network);
  else {
    const stack = await stackOf(env);
    set = await paramSetFromRun(env.clients, stack.artifactBucket, o.run as string, o.dataset, o.network);
  }
  const dataset = o.dataset ?? set.dataset;
  if (!dataset)
    throw new UserError(`${set.source}: cannot tell the dataset from the folder name; pass --dataset <name>`);
  const r = await boardParamFolders(target(host, o)).write({
    dataset,
    network: set.network,
    files: set.bytes,
    source: set.source,
  });
  out(`pushed      ${r.files} files (${r.bytes} bytes) of ${aNetwork(set.network)} set from ${set.source}`);
  out(`checked     every file's SHA-256 on the board`);
  out(`installed   ${r.where}:${r.target}`);
  out(
    `previous    ${r.previous ? `${r.previous} (kept until the next push)` : 'none (first set for this dataset)'}`,
  );
  if (r.cleaned.length > 0) out(`cleaned     ${r.cleaned.join(', ')} (left by an interrupted push)`);
  out(`next        bnn-pynq board validate ${host} --dataset ${dataset} --network ${set.network}`);
}

/** The test files given with --images (and --labels for LFC), as the board's classifier for them reads them. */
async function localTestFiles(env: CloudEnv, o: ValidateFlags): Promise<TestFiles> {
  const read = (f: string, what: string) => readInputFile(resolveIn(env, f), what);
  const images = o.images as string;
  const cnv = o.network ? OVERLAYS[o.network].family === 'cnv' : o.labels === undefined;
  if (cnv) {
    if (o.labels)
      throw new UserError(
        `--labels: CIFAR-10 records carry their own labels; drop --labels for ${o.network ?? 'a CNV network'}`,
      );
    const records = await read(images, '--images');
    const idxMagic = records[0] === 0 && records[1] === 0 && records[2] === 8 && records[3] === 3;
    if (!o.network && (idxMagic || (records[0] === 0x1f && records[1] === 0x8b)))
      throw new UserError(
        `${images}: idx3 images need --labels <idx1> (an LFC network); CNV networks take CIFAR-10 records`,
      );
    return { kind: 'cifar', records, recordsName: images };
  }
  if (!o.labels)
    throw new UserError(
      `--labels <idx1> is required for ${o.network}: the labels of --images (CNV networks take CIFAR-10 records without --labels)`,
    );
  return {
    kind: 'idx',
    images: await read(images, '--images'),
    labels: await read(o.labels, '--labels'),
    imagesName: images,
    labelsName: o.labels,
  };
}

/** `bnn-pynq board validate <host>`: the board's classifier on a test set, compared with verify. */
export async function runBoardValidate(env: CloudEnv, host: string, o: ValidateFlags): Promise<void> {
  const out = (line: string) => env.term.out(`${line}\n`);
  checkDatasetName(o.dataset);
  const arg = (p: string | undefined, what: string) => (p === undefined ? undefined : { path: p, what });
  await checkNoOverlap(
    [arg(o.images, '--images'), arg(o.labels, '--labels')],
    [arg(o.predictionsOut, '--predictions-out')],
    { cwd: env.cwd },
  );
  if (o.labels && !o.images) throw new UserError('--labels needs --images (the images they label)');
  const files = o.images
    ? await localTestFiles(env, o)
    : await testFilesFromBucket(env.clients, (await stackOf(env)).datasetBucket, o.dataset);
  const family = files.kind === 'cifar' ? 'cnv' : 'lfc';
  if (o.network && OVERLAYS[o.network].family !== family)
    throw new UserError(
      `--network ${o.network} reads ${family === 'cnv' ? 'idx3 images' : 'CIFAR-10 records'}, but the test files of ${o.dataset} are ${family === 'cnv' ? 'CIFAR-10 records' : 'idx3 images'}; pass --images of the right kind`,
    );
  let input: SimulatorInput;
  let labels: Uint8Array;
  let upload: Uint8Array;
  let imagesName: string;
  if (files.kind === 'cifar') {
    const records = readCifarRecords(files.records, files.recordsName);
    input = { kind: 'cifar', pixels: records.pixels };
    labels = records.labels;
    upload = files.records;
    imagesName = files.recordsName;
  } else {
    const images = readIdxImages(files.images, files.imagesName);
    const idxLabels = readIdxLabels(files.labels, files.labelsName);
    if (images.count !== idxLabels.count)
      throw new UserError(
        `${files.imagesName} has ${images.count} images but ${files.labelsName} has ${idxLabels.count} labels`,
      );
    checkImageShape(images, files.imagesName); // before the upload, not after
    input = { kind: 'mnist', pixels: images.pixels };
    labels = idxLabels.labels;
    upload = files.images;
    imagesName = files.imagesName;
  }

  const run = await runOnBoard(target(host, o), o.dataset, upload, { family, network: o.network });
  if (run.predictions.length !== labels.length)
    throw new UserError(
      `board ${run.where} returned ${run.predictions.length} predictions for ${labels.length} images; its classifier did not read the whole file`,
    );
  // verify's prediction for the same folder: the hardware-exact simulator on the bytes the board loaded.
  const params = decodeOverlayFiles(run.files, run.network, `${run.where}:${run.folder}`);
  const simulated = new Uint8Array(labels.length);
  createOverlaySimulator(params).run(input, 0, labels.length, simulated);
  const s = summarize(run.predictions, labels, simulated);
  if (o.predictionsOut) {
    await writeFileAtomic(
      resolveIn(env, o.predictionsOut),
      Array.from(run.predictions, (p) => `${p}\n`).join(''),
      { kind: PREDICTIONS_KIND, what: '--predictions-out' },
    );
  }
  out(`board       ${run.where}, ${run.folder}`);
  out(
    `network     ${run.network} (${family === 'cnv' ? 'CnvClassifier.classify_cifars' : 'LfcClassifier.classify_mnists'}, hardware runtime)`,
  );
  out(`images      ${s.total} (${imagesName})`);
  out(`accuracy    ${s.accuracy.toFixed(2)} % on the board (${s.correct} / ${s.total})`);
  out(`speed       ${run.usecPerImage.toFixed(2)} µs/image (as the board reports it)`);
  out(`verify      ${s.simulatedAccuracy.toFixed(2)} % predicted for the same files`);
  out(`disagree    ${s.disagreements} of ${s.total} images`);
  if (s.disagreements > 0) {
    const ex = s.examples.map(
      (e) => `#${e.image}: board ${e.board}, verify ${e.simulated}, label ${e.label}`,
    );
    throw new UserError(
      `the board classified ${s.disagreements} images differently from verify (${ex.join('; ')}): the overlay or its driver does not run these params as the format specifies; check the bitstream version (bnn-pynq board check)`,
      { exitCode: 3 },
    );
  }
}

export function register(program: Command, ctx: CliContext): void {
  const board = program
    .command('board')
    .description('Deliver a param folder to a PYNQ board over your own ssh, and measure it there');

  withSsh(
    board
      .command('check')
      .argument('<host>', 'board address or ~/.ssh/config alias ([user@]host)')
      .description(
        'Pre-flight: reachable, Python, PYNQ, bnn package and its params folder, free space, writable',
      ),
  ).action(async (host: string, o: SshFlags) => runBoardCheck(ctx.env(), host, o));

  addCloudOptions(
    withSsh(
      board
        .command('push')
        .argument('<host>', 'board address or ~/.ssh/config alias ([user@]host)')
        .description('Install a param set atomically at <bnn>/params/<dataset>/<network> on the board')
        .option(
          '--params <dir>',
          'local param folder of any overlay (e.g. params/fashion-mnist/lfcW1A1, params/my-photos/cnvW1A1)',
        )
        .option('--run <id>', "a run's param folder, fetched from S3 through its manifest")
        .option('--dataset <name>', 'dataset folder name on the board (default: from the folder or the run)')
        .addOption(
          new Option(
            '--network <name>',
            "the overlay (default: the folder's name, else the one its file sizes fit; for --run, the run's)",
          ).choices(OVERLAY_NAMES),
        ),
    ),
  ).action(async (host: string, o: PushFlags & CloudOptions) => runBoardPush(ctx.cloudEnv(o), host, o));

  addCloudOptions(
    withSsh(
      board
        .command('validate')
        .argument('<host>', 'board address or ~/.ssh/config alias ([user@]host)')
        .description(
          "Run the board's own classifier (LfcClassifier.classify_mnists or CnvClassifier.classify_cifars) on a test set: accuracy, µs/image, disagreements with verify, image by image",
        )
        .requiredOption('--dataset <name>', 'the param set on the board (<bnn>/params/<dataset>/<network>)')
        .addOption(
          new Option(
            '--network <name>',
            'the overlay to run (default: the only one of the test files kind (LFC or CNV) the board has for the dataset)',
          ).choices(OVERLAY_NAMES),
        )
        .option(
          '--images <file>',
          'LFC: idx3 images, raw or .gz; CNV: CIFAR-10 binary records, e.g. the test_batch.bin of dataset export-test (default: the dataset test split in the dataset bucket)',
        )
        .option('--labels <file>', 'LFC: idx1 labels, raw or .gz (CNV records carry their labels)')
        .option('--predictions-out <file>', "write the board's predictions, one class index per line"),
    ),
  ).action(async (host: string, o: ValidateFlags & CloudOptions) =>
    runBoardValidate(ctx.cloudEnv(o), host, o),
  );
}
