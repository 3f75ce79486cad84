import type { Command } from 'commander';
import { readCifarRecords } from '../../bnn/cifar';
import { highestSetBit, maxPositiveScore } from '../../bnn/decision';
import { readInputFile } from '../../bnn/files';
import { compareWithFloatModel } from '../../bnn/float-model';
import { readIdxImages, readIdxLabels, refuseEmpty } from '../../bnn/idx';
import { loadLfcModel } from '../../bnn/model';
import { compareOverlayWithFloat, type OverlayFloatComparison } from '../../bnn/overlay-float';
import { loadOverlayModel } from '../../bnn/overlay-model';
import { decodeOverlayFiles } from '../../bnn/overlay-params';
import type { SimulatorInput } from '../../bnn/overlay-simulate';
import { checkLabels, type OverlayVerifyReport, verifyOverlay } from '../../bnn/overlay-verify';
import { isOverlayName, OVERLAY_NAMES, OVERLAYS, type OverlayName } from '../../bnn/overlays';
import { runParallel, workersFor } from '../../bnn/parallel';
import { paramsFromFiles } from '../../bnn/params';
import type { FloatComparison, VerifyReport } from '../../bnn/types';
import { verify } from '../../bnn/verify';
import { InputFormatError, UserError } from '../../errors';
import { readLocalParamFolder } from '../../param-folder/local';
import { checkNoOverlap, PREDICTIONS_KIND, writeFileAtomic } from '../../safe-output';
import { type CliContext, type CommandEnv, resolveIn } from '../env';

export interface VerifyFlags {
  images: string;
  labels?: string;
  network?: string;
  scores?: boolean;
  json?: boolean;
  predictions?: string;
  against?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      'Run a param folder on labelled images with a hardware-exact simulator of its overlay (the board decision rule)',
    )
    .argument('<paramdir>', 'the param folder: .../<dataset>/<network>/')
    .requiredOption(
      '--images <file>',
      'LFC: images, idx3 format (raw or .gz); CNV: CIFAR-10 binary records (label byte + 3,072 RGB bytes each)',
    )
    .option('--labels <idx1>', 'LFC: labels, idx1 format (raw or .gz); CNV records carry their labels')
    .option(
      '--network <name>',
      `the overlay (${OVERLAY_NAMES.join(', ')}; default: the folder's name, else the one its file sizes fit)`,
    )
    .option(
      '--scores',
      "print every image's raw output lanes (CNV: the 16-bit scores the board's *_details calls return)",
    )
    .option(
      '--json',
      'print one JSON object (accuracy, correct, total, perClass, confusion, microsecondsPerImage, ...)',
    )
    .option(
      '--predictions <file>',
      'write the predicted class index of every image, one per line (atomically; an existing file is replaced only if it holds nothing but such lines)',
    )
    .option(
      '--against <model.npz>',
      'also run the float model it was converted from (CNV: in training-graph and overlay order): accuracies, and how many images differ by cause',
    )
    .action(async (paramDir: string, flags: VerifyFlags) => {
      await runVerify(ctx.env(), paramDir, flags);
    });
}

/** `bnn-pynq verify <paramdir>`: the hardware-exact simulator on labelled images; prints its report. */
export async function runVerify(env: CommandEnv, paramDir: string, flags: VerifyFlags): Promise<void> {
  const read = (file: string, what: string) => readInputFile(resolveIn(env, file), what);
  const arg = (p: string | undefined, what: string) => (p === undefined ? undefined : { path: p, what });
  await checkNoOverlap(
    [
      arg(paramDir, 'the param folder'),
      arg(flags.images, '--images'),
      arg(flags.labels, '--labels'),
      arg(flags.against, '--against'),
    ],
    [arg(flags.predictions, '--predictions')],
    { cwd: env.cwd },
  );
  const dir = resolveIn(env, paramDir);
  const given = networkFlag(flags.network);
  // The files as they are: verify measures a folder, it does not trust or install it (no manifest check).
  const { files, network } = readLocalParamFolder(dir, { network: given, manifest: false });
  if (network !== 'lfcW1A1' || flags.scores) {
    await runOverlayVerify(env, files, network, paramDir, flags);
    return;
  }
  if (!flags.labels)
    throw new UserError('--labels <idx1> is required for an LFC folder: the labels of --images');
  const params = paramsFromFiles(files, dir.replace(/\/+$/, ''));
  const images = readIdxImages(await read(flags.images, '--images'), flags.images);
  const labels = readIdxLabels(await read(flags.labels, '--labels'), flags.labels);
  refuseEmpty(images, flags.images, 'images');
  refuseEmpty(labels, flags.labels, 'labels');
  const model = flags.against
    ? loadLfcModel(await read(flags.against, '--against'), flags.against)
    : undefined;
  const predictions = new Uint8Array(images.count);
  const report = verify(params, images, labels, {
    imagesName: flags.images,
    labelsName: flags.labels,
    predictions,
  });
  const against = model
    ? compareWithFloatModel(model, params, images, labels, {
        imagesName: flags.images,
        labelsName: flags.labels,
      })
    : undefined;
  await writePredictions(env, flags, predictions);
  if (flags.json) {
    env.term.out(`${JSON.stringify({ paramDir, ...report, ...(against ? { against } : {}) })}\n`);
    return;
  }
  env.term.out(formatReport(report, params.classes));
  if (against) env.term.out(formatComparison(against));
}

/** --network, checked: one of the overlays, or undefined (the folder decides: lib/param-folder folderNetwork). */
function networkFlag(flag?: string): OverlayName | undefined {
  if (flag !== undefined && !isOverlayName(flag))
    throw new UserError(`--network ${flag}: choose one of ${OVERLAY_NAMES.join(', ')}`);
  return flag;
}

async function runOverlayVerify(
  env: CommandEnv,
  files: ReadonlyMap<string, Uint8Array>,
  network: OverlayName,
  paramDir: string,
  flags: VerifyFlags,
): Promise<void> {
  const read = (file: string, what: string) => readInputFile(resolveIn(env, file), what);
  const overlay = OVERLAYS[network];
  const params = decodeOverlayFiles(files, network, resolveIn(env, paramDir).replace(/\/+$/, ''));
  const imageBytes = await read(flags.images, '--images');
  let input: SimulatorInput;
  let labels: Uint8Array;
  if (overlay.input.kind === 'cifar-rgb') {
    if (flags.labels)
      throw new UserError(`--labels: CIFAR-10 records carry their own labels; drop --labels for ${network}`);
    const records = readCifarRecords(imageBytes, flags.images);
    input = { kind: 'cifar', pixels: records.pixels };
    labels = records.labels;
  } else {
    if (!flags.labels)
      throw new UserError(`--labels <idx1> is required for ${network}: the labels of --images`);
    const images = readIdxImages(imageBytes, flags.images);
    if (images.rows !== 28 || images.cols !== 28)
      throw new InputFormatError(
        flags.images,
        `images are ${images.rows} x ${images.cols}; ${network} takes 28 x 28 (784 pixels)`,
      );
    const idxLabels = readIdxLabels(await read(flags.labels, '--labels'), flags.labels);
    if (idxLabels.count !== images.count)
      throw new InputFormatError(
        flags.labels,
        `${idxLabels.count} labels for ${images.count} images in ${flags.images}: pass the label file that belongs to these images`,
      );
    input = { kind: 'mnist', pixels: images.pixels };
    labels = idxLabels.labels;
  }
  refuseEmpty({ count: labels.length }, flags.images, 'images');
  const predictions = new Uint8Array(labels.length);
  // Large inputs run on worker threads (one per core); the labels are checked first, in this thread.
  checkLabels(labels, params.classes.length, flags.labels ?? flags.images);
  const workers = workersFor(network, labels.length);
  const precomputed =
    workers > 1
      ? await runParallel(files, network, input, labels.length, params.classes.length, workers)
      : undefined;
  const report = verifyOverlay(params, input, labels, {
    imagesName: flags.images,
    labelsName: flags.labels ?? flags.images,
    predictions,
    scores: flags.scores,
    precomputed,
  });
  const against = flags.against
    ? compareOverlayWithFloat(
        loadOverlayModel(await read(flags.against, '--against'), flags.against, network),
        params,
        input,
        labels,
      )
    : undefined;
  await writePredictions(env, flags, predictions);
  if (flags.json) {
    env.term.out(`${JSON.stringify({ paramDir, ...report, ...(against ? { against } : {}) })}\n`);
    return;
  }
  env.term.out(formatOverlayReport(report, params.classes, labels));
  if (against) env.term.out(formatOverlayComparison(against));
}

export function formatOverlayComparison(c: OverlayFloatComparison): string {
  const line = (what: string, r: { correct: number; accuracy: number }) =>
    `  ${what.padEnd(58)} ${r.accuracy.toFixed(2).padStart(6)} % (${r.correct} / ${c.total})`;
  const cause = (what: string, n: number) => `  ${what.padEnd(80)} ${String(n).padStart(6)}`;
  const out = [
    'float model (--against):',
    line('training graph (argmax of the last batch norm; pool, then BN)', c.training),
    line('overlay order (argmax; BN and threshold, then pool)', c.overlayOrder),
    line("the board's decision rule on the overlay-order float model", c.floatBoardRule),
    line('hardware-exact param folder', c.hardware),
    'images whose class changes between training and the board, by cause:',
    cause('pool order (training pools before batch norm: a min in gamma < 0 channels)', c.causes.poolOrder),
    cause(
      "last batch norm ignored (only its sign is used) and the board's decision rule",
      c.causes.lastLayerAndRule,
    ),
    cause("the converter's integer thresholds (ceil for gamma < 0, exact ties)", c.causes.thresholdRounding),
  ];
  for (const p of c.poolOutputs)
    out.push(
      `  layer ${p.layer} (max-pooled): ${p.differing} of ${p.outputs} outputs differ between the two orders, ${p.differingNegativeGamma} of them in gamma < 0 channels`,
    );
  if (c.disagreements.length > 0) {
    out.push('  images where the overlay-order float model and the hardware differ:');
    for (const d of c.disagreements.slice(0, 50))
      out.push(
        `    #${d.image} label ${d.label}: hardware ${d.hardware}, float ${d.floatBoardRule}: ${d.reason}`,
      );
    if (c.disagreements.length > 50) out.push(`    ... ${c.disagreements.length - 50} more (see --json)`);
  }
  return `${out.join('\n')}\n`;
}

async function writePredictions(env: CommandEnv, flags: VerifyFlags, predictions: Uint8Array): Promise<void> {
  if (!flags.predictions) return;
  const lines = Array.from(predictions, (p) => `${p}\n`).join('');
  await writeFileAtomic(resolveIn(env, flags.predictions), lines, {
    kind: PREDICTIONS_KIND,
    what: '--predictions',
  });
}

const RULE_TEXT = {
  'highest-set-bit': 'highest set output bit, class 0 if none',
  'max-positive-score': 'first maximum score, class 0 if every score <= 0',
} as const;

export function formatOverlayReport(r: OverlayVerifyReport, classes: string[], labels: Uint8Array): string {
  const out: string[] = [];
  const lfc = r.decision === 'highest-set-bit';
  out.push(
    `${r.network} board rule (hardware-exact; ${RULE_TEXT[r.decision]}): ${r.accuracy.toFixed(2)} % (${r.correct} / ${r.total}), ${r.microsecondsPerImage.toFixed(1)} µs per image${r.threads > 1 ? ` on ${r.threads} threads` : ''}`,
  );
  out.push(
    lfc
      ? `  no output bit fired: ${r.noneFired} images (read as class 0); several bits fired: ${r.ambiguous} (the highest wins)`
      : `  every score <= 0: ${r.noneFired} images (read as class 0); tied maximum: ${r.ambiguous} (the lowest index wins)`,
  );
  if (r.scores) {
    out.push(lfc ? 'output bits per image (lanes 0..C-1):' : 'scores per image (16-bit, classes 0..C-1):');
    r.scores.forEach((s, i) => {
      const cls = lfc ? highestSetBit(s, s.length) : maxPositiveScore(s, s.length);
      out.push(`  #${i} label ${labels[i]} -> class ${cls} (${classes[cls]}): [${s.join(', ')}]`);
    });
  }
  out.push(...perClassAndConfusion(r, classes));
  return `${out.join('\n')}\n`;
}

const pct = (v: number | null) => (v === null ? '   -  ' : `${v.toFixed(2).padStart(6)} %`);

/** The per-class accuracy table and the confusion matrix, the same for every overlay's report. */
function perClassAndConfusion(
  r: Pick<VerifyReport, 'perClass' | 'confusion'>,
  classes: readonly string[],
): string[] {
  const out = ['per class:'];
  for (const c of r.perClass)
    out.push(
      `  ${String(c.index).padStart(2)} ${c.name.padEnd(14)} ${pct(c.accuracy)}  (${c.correct} / ${c.total})`,
    );
  out.push('confusion (rows: label, columns: predicted):');
  const w = Math.max(4, ...r.confusion.flat().map((v) => String(v).length + 1));
  out.push(`    ${classes.map((_, i) => String(i).padStart(w)).join('')}`);
  r.confusion.forEach((row, i) => {
    out.push(`  ${String(i).padStart(2)}${row.map((v) => String(v).padStart(w)).join('')}`);
  });
  return out;
}

export function formatReport(r: VerifyReport, classes: string[]): string {
  const out: string[] = [];
  out.push(
    `board rule (hardware-exact): ${r.accuracy.toFixed(2)} % (${r.correct} / ${r.total}), ${r.microsecondsPerImage.toFixed(1)} µs per image`,
  );
  out.push(
    `  no output bit fired: ${r.noBitFired} images (read as class 0); several bits fired: ${r.severalBitsFired} (the highest wins)`,
  );
  out.push(...perClassAndConfusion(r, classes));
  return `${out.join('\n')}\n`;
}

export function formatComparison(c: FloatComparison): string {
  const out: string[] = [];
  out.push('float model (--against):');
  out.push(
    `  argmax (what training reports):   ${c.argmax.accuracy.toFixed(2)} % (${c.argmax.correct} / ${c.total})`,
  );
  out.push(
    `  board rule on float outputs:      ${c.boardRule.accuracy.toFixed(2)} % (${c.boardRule.correct} / ${c.total})`,
  );
  out.push(
    `  hardware-exact param folder:      ${c.hardware.accuracy.toFixed(2)} % (${c.hardware.correct} / ${c.total})`,
  );
  out.push(
    `  float board rule == hardware on ${c.agreement.same} / ${c.total} images (${c.agreement.percent.toFixed(2)} %)`,
  );
  if (c.disagreements.length > 0) {
    out.push('  images that differ (only threshold rounding at exact ties can differ):');
    for (const d of c.disagreements.slice(0, 50))
      out.push(
        `    #${d.image} label ${d.label}: hardware ${d.board}, float ${d.floatBoardRule}: ${d.reason}`,
      );
    if (c.disagreements.length > 50) out.push(`    ... ${c.disagreements.length - 50} more (see --json)`);
  }
  out.push(
    `  images whose class changes by cause: the board's decision rule ${c.causes.lastLayerAndRule}, integer thresholds ${c.causes.thresholdRounding} (no max-pool in an LFC)`,
  );
  const gap = c.argmax.accuracy - c.hardware.accuracy;
  out.push(
    `  the ${gap.toFixed(2)} point gap between training's argmax and the board is the board's decision rule${c.agreement.same === c.total ? ', not the conversion' : ''}`,
  );
  return `${out.join('\n')}\n`;
}
