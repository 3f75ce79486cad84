import { createHash } from 'node:crypto';
import path from 'node:path';
import { CLASSES_FILE } from '../bnn';
import { must } from '../defined';
import { UserError } from '../errors';
import { fsError } from '../fs-errors';
import { MIB } from '../input-limits';
import {
  BUILTIN_DATASETS,
  CIFAR_DATASET_FORMAT,
  DATASET_MANIFEST_FILE,
  DATASET_NAME_PATTERN,
  DATASET_PREVIEW_FILE,
  IDX_FILES,
  localDatasetDir,
} from '../layout';
import { checkNoOverlap, checkReplaceable } from '../safe-output';
import { decodeToGrey28, decodeToRgb32, type Fit, ImageDecodeError, loadImageDecoder } from './decode';
import { IMAGE_PIXELS, RGB_IMAGE_BYTES, RGB_SIDE } from './limits';
import { DATASET_FORMAT, type DatasetManifest } from './manifest';
import {
  DATASET_FOLDER_KIND,
  type EncodedFile,
  encodeCifarFiles,
  encodeIdxPair,
  sha256Hex,
  writeFolderAtomic,
} from './output';
import {
  decidePolarity,
  describePolarity,
  type InvertMode,
  invertInPlace,
  type PolarityDecision,
} from './polarity';
import { PREVIEW_PER_CLASS, renderColourPreview, renderPreview } from './preview';
import { type DatasetSource, scanSource } from './source';
import { checkClassSizes, type SplitPercent, type SplitResult, stratifiedSplit } from './split';
import { FileTooLargeError } from './zip';

export { CLASSES_FILE } from '../bnn';
/** The contact sheet's name (shared with the run report through lib/layout). */
export const PREVIEW_FILE = DATASET_PREVIEW_FILE;

export const SPLIT_ORDER =
  'train-images/labels hold the train part, then the validation part (the trainer takes validation from the end); each part and the t10k files are in seeded random order';
export const CIFAR_SPLIT_ORDER =
  'data_batch_1.bin, data_batch_2.bin, ... (10,000 records each, read in that order) hold the train part, then the validation part (the trainer takes validation from the end); each part and test_batch.bin are in seeded random order';

/**
 * What the dataset is for: `idx` 28×28 grey idx files for the LFC overlays (the default: the LFC is the
 * default network), `cifar` 32×32 RGB CIFAR-10 binary records for the CNV overlays.
 */
export const IMAGE_FORMATS = ['idx', 'cifar'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
const BYTES_PER_IMAGE: Record<ImageFormat, number> = { idx: IMAGE_PIXELS, cifar: RGB_IMAGE_BYTES };

export interface ImportOptions {
  source: string;
  name: string;
  /** Default `./datasets/<name>`. */
  out?: string;
  split: SplitPercent;
  seed: number;
  /** Default `idx`. */
  format?: ImageFormat;
  /** Grey (idx) only; a colour dataset is never inverted. */
  invert: InvertMode;
  fit: Fit;
  classesFile?: string;
  skipBad: boolean;
  /** Replace an existing output folder. */
  force: boolean;
  /** The user's current folder (never replaced; default process.cwd()). */
  cwd?: string;
  /** Images decoded at once (default 16). */
  inFlight?: number;
  toolVersion: string;
  onProgress?: (done: number, total: number) => void;
}

export interface ImportResult {
  outDir: string;
  manifest: DatasetManifest;
  /** Grey (idx) datasets only. */
  polarity?: PolarityDecision;
  /** Notes for the user (polarity choice, skipped and ignored files, duplicates). */
  notes: string[];
  /** Files in the order they must be uploaded (dataset.json last). */
  fileOrder: string[];
  timings: Record<string, { wallMs: number; cpuMs: number }>;
}

export function checkDatasetName(name: string): void {
  if (!DATASET_NAME_PATTERN.test(name))
    throw new UserError(
      `--name ${JSON.stringify(name)}: use 1-63 lower-case letters, digits and dashes, starting with a letter or digit (it becomes an S3 prefix and the board's params folder name)`,
    );
  if ((BUILTIN_DATASETS as readonly string[]).includes(name))
    throw new UserError(
      `--name ${name}: '${name}' is a built-in dataset and cannot be replaced; choose another name, e.g. my-${name}`,
    );
}

const listSome = (items: string[], n = 5): string =>
  items.slice(0, n).join(', ') + (items.length > n ? ` and ${items.length - n} more` : '');

interface Decoded {
  pixels: Uint8Array;
  ok: boolean[];
  failures: { path: string; reason: string }[];
}

/** Bytes of image files held in memory at once while decoding (lib/input-limits.ts caps one file at 64 MiB). */
const DECODE_BUDGET_BYTES = 128 * MIB;

async function decodeAll(source: DatasetSource, options: ImportOptions, size: number): Promise<Decoded> {
  const total = source.images.length;
  const pixels = new Uint8Array(total * size);
  const decode = options.format === 'cifar' ? decodeToRgb32 : decodeToGrey28;
  loadImageDecoder();
  const ok = new Array<boolean>(total).fill(false);
  const failures: Decoded['failures'] = [];
  // Out of file descriptors (EMFILE, ENFILE) is the machine's limit, not a bad image: it stops the import
  // with one line (raise `ulimit -n`) instead of listing good images as unreadable (or, with --skip-bad,
  // silently leaving them out).
  let exhausted: NodeJS.ErrnoException | undefined;
  let exhaustedAt = '';
  let next = 0;
  let done = 0;
  // Image files held at once (read, not yet decoded) stay within a byte budget, so 16 large photos in
  // flight cannot add up to gigabytes; one file alone may always proceed (each is at most 64 MiB).
  let held = 0;
  let waiting: Array<() => void> = [];
  const release = (bytes: number) => {
    held -= bytes;
    const wake = waiting;
    waiting = [];
    for (const w of wake) w();
  };
  const worker = async () => {
    while (next < total && !exhausted) {
      const i = next++;
      const image = must(source.images[i], 'the source images');
      let reserved = 0;
      const reserve = async (bytes: number) => {
        while (held > 0 && held + bytes > DECODE_BUDGET_BYTES)
          await new Promise<void>((resolve) => waiting.push(resolve));
        held += bytes;
        reserved = bytes;
      };
      try {
        const bytes = await image.read(reserve);
        pixels.set(await decode(bytes, options.fit), i * size);
        ok[i] = true;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EMFILE' || e.code === 'ENFILE') {
          exhausted ??= e;
          exhaustedAt ||= image.path;
        } else if (err instanceof FileTooLargeError) failures.push({ path: image.path, reason: err.message });
        else if (!(err instanceof ImageDecodeError)) {
          failures.push({ path: image.path, reason: `cannot read (${e.code ?? e.message})` });
        } else failures.push({ path: image.path, reason: err.message });
      } finally {
        release(reserved);
      }
      done++;
      if (options.onProgress && (done % 5000 === 0 || done === total)) options.onProgress(done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.inFlight ?? 16, Math.max(total, 1)) }, worker));
  if (exhausted)
    throw fsError(exhausted, { path: path.join(options.source, exhaustedAt), what: 'cannot read an image' });
  failures.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { pixels, ok, failures };
}

/** Imports a folder or zip of class folders into a checked dataset folder (see docs/datasets.md). */
export async function importDataset(options: ImportOptions): Promise<ImportResult> {
  // Wall and CPU (user + system, all threads) milliseconds per phase, for the benchmark.
  const timings: Record<string, { wallMs: number; cpuMs: number }> = {};
  let t = performance.now();
  let cpu = process.cpuUsage();
  const lap = (name: string) => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    timings[name] = { wallMs: Math.round(now - t), cpuMs: Math.round((used.user + used.system) / 1000) };
    t = now;
    cpu = process.cpuUsage();
  };
  checkDatasetName(options.name);
  const format = options.format ?? 'idx';
  const size = BYTES_PER_IMAGE[format];
  if (format === 'cifar' && options.invert !== 'no')
    throw new UserError(
      `--invert ${options.invert}: only grey (--format idx) datasets are inverted (the LFC binarizes its input at 128); the CNV reads colour pixels as they are, so a --format cifar import takes no --invert`,
    );
  const outDir = options.out ?? localDatasetDir(options.name);
  await checkNoOverlap(
    [
      { path: options.source, what: 'the source' },
      options.classesFile ? { path: options.classesFile, what: '--classes' } : undefined,
    ],
    [{ path: outDir, what: '--out' }],
    { cwd: options.cwd },
  );
  await checkReplaceable(outDir, { replace: options.force, kind: DATASET_FOLDER_KIND, what: '--out' });

  const source = await scanSource(options.source, { classesFile: options.classesFile });
  try {
    const classCount = source.classNames.length;
    const fileCounts = new Array<number>(classCount).fill(0);
    for (const im of source.images)
      fileCounts[im.classIndex] = must(fileCounts[im.classIndex], 'the class file counts') + 1;
    checkClassSizes(source.classNames, fileCounts, options.split);
    lap('scan');

    const decoded = await decodeAll(source, options, size);
    lap('decode');
    const notes: string[] = [];
    if (decoded.failures.length > 0) {
      const list = decoded.failures.map((f) => `${f.path} (${f.reason})`);
      if (!options.skipBad)
        throw new UserError(
          `${decoded.failures.length} unreadable or corrupt image(s) in ${options.source}: ${listSome(list, 10)}. Fix or delete them, or pass --skip-bad to import without them`,
        );
      notes.push(`skipped ${decoded.failures.length} unreadable image(s) (--skip-bad): ${listSome(list)}`);
    }

    // The images that made it, compacted, in source order.
    const keep: number[] = [];
    decoded.ok.forEach((good, i) => {
      if (good) keep.push(i);
    });
    const count = keep.length;
    const pixels = count === decoded.ok.length ? decoded.pixels : new Uint8Array(count * size);
    const labels = new Uint8Array(count);
    const paths: string[] = new Array(count);
    keep.forEach((src, j) => {
      if (pixels !== decoded.pixels)
        pixels.set(decoded.pixels.subarray(src * size, (src + 1) * size), j * size);
      const image = must(source.images[src], 'the source images');
      labels[j] = image.classIndex;
      paths[j] = image.path;
    });
    if (decoded.failures.length > 0) {
      const counts = new Array<number>(classCount).fill(0);
      for (const l of labels) counts[l] = must(counts[l], 'the class counts') + 1;
      const empty = counts.indexOf(0);
      if (empty >= 0)
        throw new UserError(
          `class '${source.classNames[empty]}' is empty after skipping its unreadable images; fix them or remove the class`,
        );
      checkClassSizes(source.classNames, counts, options.split, ' after skipping unreadable images');
    }

    let polarity: PolarityDecision | undefined;
    if (format === 'idx') {
      polarity = decidePolarity(pixels, count, options.invert);
      if (polarity.inverted) invertInPlace(pixels);
      notes.unshift(`polarity: ${describePolarity(polarity)}`);
    } else
      notes.unshift(
        `format: 32×32 RGB CIFAR-10 binary records for the CNV overlays (cnvW1A1, cnvW1A2, cnvW2A2); colours kept as they are${options.fit === 'contain' ? ', non-square images centred on white' : ''}`,
      );

    // Identical images (what the board sees) are one unit for the split.
    const keys: string[] = new Array(count);
    const firstWithKey = new Map<string, number>();
    const groups = new Map<string, number[]>();
    for (let j = 0; j < count; j++) {
      const key = createHash('sha1')
        .update(pixels.subarray(j * size, (j + 1) * size))
        .digest('base64');
      keys[j] = key;
      const first = firstWithKey.get(key);
      if (first === undefined) firstWithKey.set(key, j);
      else {
        const g = groups.get(key);
        if (g) g.push(j);
        else groups.set(key, [first, j]);
      }
    }
    const pathOf = (j: number) => must(paths[j], 'the image paths');
    const conflicting = [...groups.values()]
      .filter((g) => new Set(g.map((j) => labels[j])).size > 1)
      .map((g) => g.map(pathOf));
    const extraCopies = [...groups.values()].reduce((s, g) => s + g.length - 1, 0);
    if (groups.size > 0) {
      const examples = [...groups.values()].slice(0, 3).map((g) => g.map(pathOf).join(' = '));
      notes.push(
        `duplicates: ${extraCopies} image(s) are identical copies of another (${groups.size} group(s), e.g. ${examples.join('; ')}); each group is kept in one split so no test image has a copy in training`,
      );
    }
    const [firstConflict] = conflicting;
    if (firstConflict)
      notes.push(
        `warning: ${conflicting.length} group(s) of identical images carry different labels, e.g. ${firstConflict.join(' = ')}; the network cannot tell them apart`,
      );

    const split: SplitResult = stratifiedSplit(
      Array.from(labels, (classIndex, index) => ({
        index,
        classIndex,
        key: must(keys[index], 'the image keys'),
      })),
      classCount,
      options.split,
      options.seed,
    );
    lap('polarity+split');

    const gather = (indices: number[]) => {
      const images = new Uint8Array(indices.length * size);
      const lab = new Uint8Array(indices.length);
      indices.forEach((j, k) => {
        images.set(pixels.subarray(j * size, (j + 1) * size), k * size);
        lab[k] = must(labels[j], 'the labels');
      });
      return { images, labels: lab };
    };
    const trainOrder = [...split.train, ...split.validation];
    const dataFiles =
      format === 'cifar'
        ? encodeCifarFiles(gather(trainOrder), gather(split.test))
        : (
            await Promise.all([
              encodeIdxPair(
                { images: IDX_FILES.trainImages, labels: IDX_FILES.trainLabels },
                gather(trainOrder),
              ),
              encodeIdxPair(
                { images: IDX_FILES.testImages, labels: IDX_FILES.testLabels },
                gather(split.test),
              ),
            ])
          ).flat();
    lap(format);

    // Preview samples: the first images of each class in file order (train file, then test file).
    const samples: Uint8Array[][] = Array.from({ length: classCount }, () => []);
    for (const j of [...trainOrder, ...split.test]) {
      const s = must(samples[must(labels[j], 'the labels')], 'the preview samples');
      if (s.length < PREVIEW_PER_CLASS) s.push(pixels.subarray(j * size, (j + 1) * size));
    }
    const previewBytes = await (format === 'cifar' ? renderColourPreview : renderPreview)({
      classNames: source.classNames,
      perClass: split.perClass,
      samples,
    });
    lap('preview');

    const classesBytes = Buffer.from(source.classNames.join('\n'), 'utf8');
    const files: EncodedFile[] = [
      ...dataFiles,
      { name: CLASSES_FILE, bytes: classesBytes, sha256: sha256Hex(classesBytes) },
      { name: PREVIEW_FILE, bytes: previewBytes, sha256: sha256Hex(previewBytes) },
    ];
    if (source.ignored.length > 0)
      notes.push(
        `ignored ${source.ignored.length} file(s) (not images in class folders, or links not followed): ${listSome(source.ignored)}`,
      );

    const manifest: DatasetManifest = {
      format: format === 'cifar' ? CIFAR_DATASET_FORMAT : DATASET_FORMAT,
      name: options.name,
      createdAt: new Date().toISOString(),
      createdBy: { tool: 'bnn-pynq', version: options.toolVersion },
      source: {
        kind: source.kind,
        path: options.source,
        imageFiles: source.images.length,
        imported: count,
        skipped: decoded.failures,
        ignoredFiles: source.ignored.length,
      },
      image:
        format === 'cifar'
          ? {
              width: RGB_SIDE,
              height: RGB_SIDE,
              channels: 3,
              fit: options.fit,
              background: 'white',
              layout:
                'CIFAR-10 binary records: 1 label byte, then 1,024 R, 1,024 G, 1,024 B bytes (row-major)',
            }
          : { width: 28, height: 28, fit: options.fit, binarizeAt: 128 },
      ...(polarity
        ? {
            polarity: {
              mode: polarity.mode,
              inverted: polarity.inverted,
              medianBorderBeforeInversion: Math.round(polarity.medianBorder * 100) / 100,
              result: 'white-on-black' as const,
            },
          }
        : {}),
      classes: source.classNames,
      split: {
        percent: options.split,
        seed: options.seed,
        order: format === 'cifar' ? CIFAR_SPLIT_ORDER : SPLIT_ORDER,
      },
      splits: { train: split.train.length, validation: split.validation.length, test: split.test.length },
      perClass: source.classNames.map((name, label) => {
        const [train, validation, test] = must(split.perClass[label], 'the per-class split counts');
        return { label, class: name, train, validation, test };
      }),
      duplicates: { groups: groups.size, extraCopies, conflictingLabels: conflicting },
      files: Object.fromEntries(
        files.map((f) => [
          f.name,
          {
            sha256: f.sha256,
            ...(f.rawBytes !== undefined ? { bytes: f.rawBytes } : {}),
            ...(f.count !== undefined ? { count: f.count } : {}),
          },
        ]),
      ),
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
    const ordered = [...files, { name: DATASET_MANIFEST_FILE, bytes: manifestBytes }];
    await writeFolderAtomic(outDir, ordered, options.force);
    lap('write');
    return { outDir, manifest, polarity, notes, fileOrder: ordered.map((f) => f.name), timings };
  } finally {
    source.close();
  }
}
