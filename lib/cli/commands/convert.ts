import type { Command } from 'commander';
import { calibrateLastLayer, checkNotTestSet } from '../../bnn/calibrate';
import { convertLfc } from '../../bnn/convert';
import { readInputFile } from '../../bnn/files';
import { writeParamFolderAtomic } from '../../bnn/folder';
import { readIdxImages, readIdxLabels, sliceImages, sliceLabels } from '../../bnn/idx';
import { LFC_MAX_CLASSES } from '../../bnn/lfc';
import { loadLfcModel } from '../../bnn/model';
import { parseClassNames } from '../../bnn/params';
import { CLASS_PRESETS, VALIDATION_SPLIT } from '../../bnn/presets';
import type { ConvertSummary } from '../../bnn/types';
import { InputFormatError, UserError } from '../../errors';
import { DATASET_NAME_PATTERN, DEFAULT_DATASET, DEFAULT_NETWORK, NETWORKS } from '../../layout';

interface ConvertFlags {
  out: string;
  dataset: string;
  network: string;
  classes?: string;
  force?: boolean;
  json?: boolean;
  calibrateImages?: string;
  calibrateLabels?: string;
}

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'Convert a trained model.npz into the PYNQ param folder <out>/<dataset>/lfcW1A1/ (288 .bin files + classes.txt), byte-identical to BNN-PYNQ finnthesizer',
    )
    .argument('<model.npz>', 'the model written by training (arr_0 .. arr_23)')
    .requiredOption('--out <dir>', 'where to create <dataset>/<network>/')
    .option(
      '--dataset <name>',
      'dataset name: the board folder name and the class-name preset',
      DEFAULT_DATASET,
    )
    .option('--network <name>', `overlay network (${NETWORKS.join(', ')})`, DEFAULT_NETWORK)
    .option(
      '--classes <file>',
      'class names, one per line (default: the preset of --dataset: fashion-mnist, mnist)',
    )
    .option('--force', 'replace an existing <out>/<dataset>/<network>/ folder')
    .option('--json', 'print the summary as one JSON object')
    .option(
      '--calibrate-images <idx3>',
      'validation images: re-choose the last layer thresholds to maximise board-rule accuracy on them',
    )
    .option('--calibrate-labels <idx1>', 'labels of --calibrate-images')
    .action(async (modelFile: string, flags: ConvertFlags) => {
      await runConvert(modelFile, flags);
    });
}

async function classNames(flags: ConvertFlags): Promise<string[] | undefined> {
  if (flags.classes) {
    const names = parseClassNames(new TextDecoder().decode(await readInputFile(flags.classes, '--classes')));
    if (names.length === 0)
      throw new InputFormatError(flags.classes, 'no class names: write one name per line');
    if (names.length > LFC_MAX_CLASSES)
      throw new InputFormatError(
        flags.classes,
        `${names.length} class names, but the lfcW1A1 overlay has at most ${LFC_MAX_CLASSES} outputs`,
      );
    return names;
  }
  const preset = CLASS_PRESETS[flags.dataset];
  return preset ? [...preset] : undefined;
}

async function runConvert(modelFile: string, flags: ConvertFlags): Promise<void> {
  if (!(NETWORKS as readonly string[]).includes(flags.network))
    throw new UserError(`--network ${flags.network}: only ${NETWORKS.join(', ')} is supported`);
  if (!DATASET_NAME_PATTERN.test(flags.dataset))
    throw new UserError(
      `--dataset ${flags.dataset}: use lower-case letters, digits and dashes (e.g. fashion-mnist)`,
    );
  if (Boolean(flags.calibrateImages) !== Boolean(flags.calibrateLabels))
    throw new UserError('--calibrate-images and --calibrate-labels go together: pass both');

  const names = await classNames(flags);
  const model = loadLfcModel(await readInputFile(modelFile, 'the model'), modelFile);
  if (!names)
    throw new UserError(
      `no class names for dataset '${flags.dataset}': pass --classes <file> with ${model.classes} names, one per line`,
    );
  if (names.length !== model.classes)
    throw new InputFormatError(
      flags.classes ?? `the ${flags.dataset} preset`,
      `${names.length} class names, but ${modelFile} has ${model.classes} outputs; give exactly ${model.classes} names`,
    );
  const t0 = performance.now();
  const converted = convertLfc(model, names);
  const convertMs = performance.now() - t0;
  let files = converted.files;
  let calibration: Awaited<ReturnType<typeof calibrate>> | undefined;
  if (flags.calibrateImages && flags.calibrateLabels) {
    calibration = await calibrate(converted, flags.calibrateImages, flags.calibrateLabels);
    files = calibration.result.files;
  }
  const target = await writeParamFolderAtomic(flags.out, flags.dataset, flags.network, files, {
    overwrite: flags.force,
  });
  if (flags.json) {
    const c = calibration;
    process.stdout.write(
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
  process.stdout.write(formatSummary(converted.summary, target, convertMs));
  if (calibration) {
    const { result, range } = calibration;
    process.stdout.write(
      `calibrated last-layer thresholds on ${result.images} images${range ? ` (${range})` : ''}: board-rule accuracy ${result.before.accuracy.toFixed(2)} % -> ${result.after.accuracy.toFixed(2)} %\n` +
        `  thresholds ${result.before.thresholds.join(' ')} -> ${result.after.thresholds.join(' ')}\n` +
        '  (only 3-*-thres.bin differ from the uncalibrated conversion; verify on the test set to see the effect)\n',
    );
  }
}

async function calibrate(converted: ReturnType<typeof convertLfc>, imagesFile: string, labelsFile: string) {
  const imageBytes = await readInputFile(imagesFile, '--calibrate-images');
  const labelBytes = await readInputFile(labelsFile, '--calibrate-labels');
  const knownImages = checkNotTestSet(imageBytes, imagesFile);
  const knownLabels = checkNotTestSet(labelBytes, labelsFile);
  let images = readIdxImages(imageBytes, imagesFile);
  let labels = readIdxLabels(labelBytes, labelsFile);
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
