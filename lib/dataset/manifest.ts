import { z } from 'zod';
import { CIFAR_DATASET_FORMAT, DATASET_NAME_PATTERN, IDX_FILES } from '../layout';
import { FITS } from './decode';
import { INVERT_MODES } from './polarity';

/**
 * dataset.json: what `dataset import` made, from what, and the SHA-256 of each idx file's
 * DECOMPRESSED bytes (the instance checks these before training; stable across recompression).
 * `files` is a map `{name: {sha256, ...}}`, the shape scripts/instance/stage-dataset.sh reads.
 */

export const DATASET_FORMAT = 'bnn-pynq-dataset/1';
/**
 * A 32×32 RGB dataset for the CNV overlays (`dataset import --format cifar`): CIFAR-10 binary records,
 * `files` holding the SHA-256 of each file as stored. The same format name as the instance's cached CIFAR-10
 * (scripts/instance/stage-dataset.sh), which stages both the same way.
 */
export { CIFAR_DATASET_FORMAT };
export const DATASET_FORMATS = [DATASET_FORMAT, CIFAR_DATASET_FORMAT] as const;

const count = z.number().int().nonnegative();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const datasetManifestSchema = z.object({
  format: z.enum(DATASET_FORMATS),
  name: z.string().regex(DATASET_NAME_PATTERN),
  createdAt: z.string(),
  createdBy: z.object({ tool: z.literal('bnn-pynq'), version: z.string() }),
  source: z.object({
    kind: z.enum(['folder', 'zip']),
    path: z.string(),
    imageFiles: count,
    imported: count,
    skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
    ignoredFiles: count,
  }),
  image: z.union([
    z.object({
      width: z.literal(28),
      height: z.literal(28),
      fit: z.enum(FITS),
      binarizeAt: z.literal(128),
    }),
    z.object({
      width: z.literal(32),
      height: z.literal(32),
      channels: z.literal(3),
      fit: z.enum(FITS),
      /** The colour the `contain` pad and transparent pixels become. */
      background: z.literal('white'),
      layout: z.string(),
    }),
  ]),
  /** Grey (idx) datasets only: colour images go to the CNV as they are. */
  polarity: z
    .object({
      mode: z.enum(INVERT_MODES),
      inverted: z.boolean(),
      medianBorderBeforeInversion: z.number(),
      result: z.literal('white-on-black'),
    })
    .optional(),
  classes: z.array(z.string()).min(2).max(64),
  split: z.object({
    percent: z.tuple([z.number(), z.number(), z.number()]),
    seed: z.number().int(),
    order: z.string(),
  }),
  /** The training file holds `train` images followed by `validation` images; the test file holds `test`. */
  splits: z.object({ train: count, validation: count, test: count }),
  perClass: z.array(
    z.object({ label: count, class: z.string(), train: count, validation: count, test: count }),
  ),
  duplicates: z.object({
    /** Groups of two or more identical images (kept in one split). */
    groups: count,
    /** Images that are a copy of an earlier one. */
    extraCopies: count,
    /** Groups whose copies carry different labels. */
    conflictingLabels: z.array(z.array(z.string())),
  }),
  files: z.record(z.string(), z.object({ sha256, bytes: count.optional(), count: count.optional() })),
});

export type DatasetManifest = z.infer<typeof datasetManifestSchema>;

export const IDX_FILE_NAMES = [
  IDX_FILES.trainImages,
  IDX_FILES.trainLabels,
  IDX_FILES.testImages,
  IDX_FILES.testLabels,
] as const;

export function parseDatasetManifest(text: string, where: string): DatasetManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = datasetManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${where}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}
