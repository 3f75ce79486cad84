import path from 'node:path';
import type { Command } from 'commander';
import { calibrateLastLayer, checkNotTestSet } from '../../bnn/calibrate';
import { convertLfc } from '../../bnn/convert';
import { readInputFile } from '../../bnn/files';
import { readIdxImages, readIdxLabels, refuseEmpty, sliceImages, sliceLabels } from '../../bnn/idx';
import { loadLfcModel, parseLfcModel } from '../../bnn/model';
import { readNpz } from '../../bnn/npz';
import { convertOverlay, type OverlayConvertSummary } from '../../bnn/overlay-convert';
import { inferNetwork, parseOverlayModel } from '../../bnn/overlay-model';
import { isOverlayName, maxClassesOf, OVERLAY_NAMES, OVERLAYS, type OverlayName } from '../../bnn/overlays';
import { CLASS_PRESETS, VALIDATION_SPLIT } from '../../bnn/presets';
import type { ConvertSummary } from '../../bnn/types';
import { parseClassFile } from '../../class-names';
import { InputFormatError, UserError } from '../../errors';
import { DATASET_NAME_PATTERN, DEFAULT_DATASET } from '../../layout';
import { localParamFolders } from '../../param-folder/local';
import { checkNoOverlap } from '../../safe-output';
import { type CliContext, type CommandEnv, resolveIn } from '../env';

/** The dataset (board folder and class-name preset) of each overlay family when --dataset is not given. */
const FAMILY_DATASET = { lfc: DEFAULT_DATASET, cnv: 'cifar10' } as const;

export interface ConvertFlags {
  out: string;
  dataset?: string;
  network?: string;
  classes?: string;
  force?: boolean;
  json?: boolean;
  calibrateImages?: string;
  calibrateLabels?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('convert')
    .description(
      'Convert a trained model.npz into the PYNQ param folder <out>/<dataset>/<network>/ (.bin files + classes.txt), byte-identical to BNN-PYNQ finnthesizer',
    )
    .argument('<model.npz>', 'the model written by training (LFC: arr_0 .. arr_23, CNV: arr_0 .. arr_52)')
    .requiredOption('--out <dir>', 'where to create <dataset>/<network>/')
    .option(
      '--dataset <name>',
      `dataset name: the board folder name and the class-name preset (default: ${FAMILY_DATASET.lfc} for LFC, ${FAMILY_DATASET.cnv} for CNV)`,
    )
    .option(
      '--network <name>',
      `overlay network (${OVERLAY_NAMES.join(', ')}; default: lfcW1A1 for a dense model, required for a CNV model)`,
    )
    .option(
      '--classes <file>',
      `class names, one per line (default: the preset of --dataset: ${Object.keys(CLASS_PRESETS).join(', ')})`,
    )
    .option(
      '--force',
      'replace an existing <out>/<dataset>/<network>/ folder, only if it holds nothing but param files (*.bin, classes.txt, manifest.json); anything else in it (a model.npz, your notes) makes convert refuse',
    )
    .option('--json', 'print the summary as one JSON object')
    .option(
      '--calibrate-images <idx3>',
      'validation images: re-choose the last layer thresholds to maximise board-rule accuracy on them',
    )
    .option('--calibrate-labels <idx1>', 'labels of --calibrate-images')
    .action(async (modelFile: string, flags: ConvertFlags) => {
      await runConvert(ctx.env(), modelFile, flags);
    });
}

async function classNames(
  env: CommandEnv,
  flags: ConvertFlags,
  dataset: string,
  network: OverlayName,
): Promise<string[] | undefined> {
  if (flags.classes) {
    const names = parseClassFile(
      new TextDecoder().decode(await readInputFile(resolveIn(env, flags.classes), '--classes')),
      flags.classes,
      { max: maxClassesOf(network), maxLabel: `the ${network} overlay` },
    );
    return names;
  }
  const preset = CLASS_PRESETS[dataset];
  return preset ? [...preset] : undefined;
}

/** `bnn-pynq convert <model.npz>`: writes the param folder atomically and prints its summary. */
export async function runConvert(env: CommandEnv, modelFile: string, flags: ConvertFlags): Promise<void> {
  if (flags.network !== undefined && !isOverlayName(flags.network))
    throw new UserError(`--network ${flags.network}: choose one of ${OVERLAY_NAMES.join(', ')}`);
  if (flags.dataset !== undefined && !DATASET_NAME_PATTERN.test(flags.dataset))
    throw new UserError(
      `--dataset ${flags.dataset}: use lower-case letters, digits and dashes (e.g. fashion-mnist)`,
    );
  if (Boolean(flags.calibrateImages) !== Boolean(flags.calibrateLabels))
    throw new UserError('--calibrate-images and --calibrate-labels go together: pass both');

  const modelBytes = await readInputFile(resolveIn(env, modelFile), 'the model');
  // lfcW1A1 keeps its own converter (and calibration); every other overlay goes through the table.
  let network = flags.network as OverlayName | undefined;
  let arrays: ReturnType<typeof readNpz> | undefined;
  if (network !== 'lfcW1A1') {
    arrays = readNpz(modelBytes, modelFile);
    network ??= inferNetwork(arrays, modelFile);
  }
  if (network !== 'lfcW1A1' && flags.calibrateImages)
    throw new UserError(`--calibrate-images: last-layer calibration is for lfcW1A1 only, not ${network}`);
  const dataset = flags.dataset ?? FAMILY_DATASET[OVERLAYS[network].family];
  const arg = (p: string | undefined, what: string) => (p === undefined ? undefined : { path: p, what });
  await checkNoOverlap(
    [
      arg(modelFile, 'the model'),
      arg(flags.classes, '--classes'),
      arg(flags.calibrateImages, '--calibrate-images'),
      arg(flags.calibrateLabels, '--calibrate-labels'),
    ],
    [arg(path.join(flags.out, dataset, network), '--out')],
    { cwd: env.cwd },
  );
  if (network !== 'lfcW1A1' && arrays) {
    const names = await classNames(env, flags, dataset, network);
    await runOverlayConvert(
      env,
      parseOverlayModel(arrays, modelFile, network),
      names,
      dataset,
      modelFile,
      flags,
    );
    return;
  }
  const names = await classNames(env, flags, dataset, network);
  const model = arrays ? parseLfcModel(arrays, modelFile) : loadLfcModel(modelBytes, modelFile);
  requireClassNames(names, model.classes, dataset, modelFile, flags);
  const t0 = performance.now();
  const converted = convertLfc(model, names);
  const convertMs = performance.now() - t0;
  let files = converted.files;
  let calibration: Awaited<ReturnType<typeof calibrate>> | undefined;
  if (flags.calibrateImages && flags.calibrateLabels) {
    calibration = await calibrate(env, converted, flags.calibrateImages, flags.calibrateLabels);
    files = calibration.result.files;
  }
  const target = await localParamFolders(resolveIn(env, flags.out), { overwrite: flags.force }).write({
    dataset,
    network,
    files,
  });
  if (flags.json) {
    const c = calibration;
    env.term.out(
      `${JSON.stringify({
        folder: target,
        ...converted.summary,
        convertMilliseconds: convertMs,
        calibration: c
          ? {
              images: c.result.images,
              range: c.range,
              before: c.result.before,
              after: c.result.after,
            }
          : null,
      })}\n`,
    );
    return;
  }
  env.term.out(formatSummary(converted.summary, target, convertMs));
  if (calibration) {
    const { result, range } = calibration;
    env.term.out(
      `calibrated last-layer thresholds on ${result.images} images${range ? ` (${range})` : ''}: board-rule accuracy ${result.before.accuracy.toFixed(2)} % -> ${result.after.accuracy.toFixed(2)} %\n` +
        `  thresholds ${result.before.thresholds.join(' ')} -> ${result.after.thresholds.join(' ')}\n` +
        '  (only 3-*-thres.bin differ from the uncalibrated conversion; verify on the test set to see the effect)\n',
    );
  }
}

/** The class names for a model of `classes` outputs: present, and exactly as many as its outputs. */
function requireClassNames(
  names: string[] | undefined,
  classes: number,
  dataset: string,
  modelFile: string,
  flags: ConvertFlags,
): asserts names is string[] {
  if (!names)
    throw new UserError(
      `no class names for dataset '${dataset}': pass --classes <file> with ${classes} names, one per line`,
    );
  if (names.length !== classes)
    throw new InputFormatError(
      flags.classes ?? `the ${dataset} preset`,
      `${names.length} class names, but ${modelFile} has ${classes} outputs; give exactly ${classes} names`,
    );
}

async function runOverlayConvert(
  env: CommandEnv,
  model: ReturnType<typeof parseOverlayModel>,
  names: string[] | undefined,
  dataset: string,
  modelFile: string,
  flags: ConvertFlags,
): Promise<void> {
  requireClassNames(names, model.classes, dataset, modelFile, flags);
  const t0 = performance.now();
  const converted = convertOverlay(model, names);
  const convertMs = performance.now() - t0;
  const target = await localParamFolders(resolveIn(env, flags.out), { overwrite: flags.force }).write({
    dataset,
    network: model.overlay.name,
    files: converted.files,
  });
  if (flags.json) {
    env.term.out(
      `${JSON.stringify({ folder: target, ...converted.summary, convertMilliseconds: convertMs })}\n`,
    );
    return;
  }
  env.term.out(formatOverlaySummary(converted.summary, target, convertMs));
}

/** The table convert prints for a non-lfcW1A1 overlay, with the pool-order report for CNV. */
export function formatOverlaySummary(s: OverlayConvertSummary, target: string, ms: number): string {
  const bins = s.fileCount - 1;
  const lines = [
    `wrote ${target}/ (${s.fileCount} files: ${bins} .bin + classes.txt; ${s.network}, ${s.classes} classes) in ${ms.toFixed(0)} ms`,
    'layer  kind   fan-in -> neurons   padded       SIMD x PE  W bits  thresholds  flipped  saturated',
  ];
  for (const l of s.layers)
    lines.push(
      `${String(l.layer).padStart(5)}  ${l.kind.padEnd(5)}  ${String(l.fanIn).padStart(6)} -> ${String(l.fanOut).padEnd(7)}  ${`${l.paddedFanIn} x ${l.paddedNeurons}`.padEnd(11)}  ${`${l.simd} x ${l.pe}`.padEnd(9)}  ${String(l.weightBits).padStart(6)}  ${(l.thresholdsPerNeuron === 0 ? 'none (scores)' : `${l.thresholdsPerNeuron}/neuron`).padEnd(10)}  ${String(l.flipped).padStart(7)}  ${String(l.saturated).padStart(9)}`,
    );
  for (const p of s.poolOrder) {
    const n = p.negativeGamma.length;
    lines.push(
      n === 0
        ? `pool order, layer ${p.layer}: no channel has gamma < 0; the board's threshold-then-pool equals training's pool-then-batch-norm`
        : `pool order, layer ${p.layer}: ${n} of ${p.channels} channels have gamma < 0 (${p.negativeGamma.slice(0, 12).join(' ')}${n > 12 ? ' …' : ''}): training pools before batch norm and so takes the MIN of their 2x2 activations, the board thresholds first and takes the MAX; expect the board to differ from training there (verify --against counts the images)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function calibrate(
  env: CommandEnv,
  converted: ReturnType<typeof convertLfc>,
  imagesFile: string,
  labelsFile: string,
) {
  const imageBytes = await readInputFile(resolveIn(env, imagesFile), '--calibrate-images');
  const labelBytes = await readInputFile(resolveIn(env, labelsFile), '--calibrate-labels');
  const knownImages = checkNotTestSet(imageBytes, imagesFile);
  const knownLabels = checkNotTestSet(labelBytes, labelsFile);
  let images = readIdxImages(imageBytes, imagesFile);
  let labels = readIdxLabels(labelBytes, labelsFile);
  refuseEmpty(images, imagesFile, 'images');
  refuseEmpty(labels, labelsFile, 'labels');
  if (images.count !== labels.count)
    throw new InputFormatError(
      labelsFile,
      `${labels.count} labels for ${images.count} images in ${imagesFile}`,
    );
  let range: string | undefined;
  // The full training files of a known dataset: use only BNN-PYNQ's validation split, never the images trained on.
  if (knownImages?.role === 'train' && knownLabels?.role === 'train') {
    images = sliceImages(images, VALIDATION_SPLIT.start, VALIDATION_SPLIT.end);
    labels = sliceLabels(labels, VALIDATION_SPLIT.start, VALIDATION_SPLIT.end);
    range = `validation split ${VALIDATION_SPLIT.start}..${VALIDATION_SPLIT.end - 1} of the ${knownImages.dataset} training set`;
  }
  return { result: calibrateLastLayer(converted.params, images, labels), range };
}

export function formatSummary(s: ConvertSummary, target: string, ms: number): string {
  const lines = [
    `wrote ${target}/ (${s.fileCount} files: 288 .bin + classes.txt; ${s.classes} classes) in ${ms.toFixed(0)} ms`,
  ];
  lines.push('layer  fan-in -> neurons   padded      SIMD x PE  flipped  saturated');
  for (const l of s.layers)
    lines.push(
      `${String(l.layer).padStart(5)}  ${String(l.fanIn).padStart(6)} -> ${String(l.fanOut).padEnd(7)}  ${`${l.paddedFanIn} x ${l.paddedNeurons}`.padEnd(11)}  ${`${l.simd} x ${l.pe}`.padEnd(9)}  ${String(l.flipped).padStart(7)}  ${String(l.saturated).padStart(9)}`,
    );
  return `${lines.join('\n')}\n`;
}
