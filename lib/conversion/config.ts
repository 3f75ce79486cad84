import { UserError } from '../errors';

/**
 * The conversion Lambda's configuration, set by the ConversionJob construct as environment variables.
 * Names live here so the construct and the handler cannot drift apart.
 */
export const CONVERSION_ENV = {
  artifactBucket: 'BNN_PYNQ_ARTIFACT_BUCKET',
  datasetBucket: 'BNN_PYNQ_DATASET_BUCKET',
  minAccuracyPercent: 'BNN_PYNQ_MIN_ACCURACY_PERCENT',
  floatCompareImages: 'BNN_PYNQ_FLOAT_COMPARE_IMAGES',
} as const;

/**
 * The accuracy floor (board rule, percent of the test set): its default and its range, written once. The deploy
 * config (lib/config.ts), the ConversionJob construct and the Lambda's environment all check it with
 * `accuracyFloorProblem`. It is there to stop broken params, not mediocre ones: a wrong sign or a mangled npz
 * lands near chance (10 % for 10 classes), while a short real training run of LFC already reaches 75-80 % on
 * Fashion-MNIST and 95+ % on MNIST.
 */
export const ACCURACY_FLOOR = { default: 50, min: 0, max: 100 } as const;
export const DEFAULT_MIN_ACCURACY_PERCENT: number = ACCURACY_FLOOR.default;

/** What is wrong with an accuracy floor, in words that read after its name; undefined when it is fine. */
export function accuracyFloorProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return 'must be a number';
  if (value < ACCURACY_FLOOR.min) return `must be at least ${ACCURACY_FLOOR.min}`;
  if (value > ACCURACY_FLOOR.max) return `must be at most ${ACCURACY_FLOOR.max}`;
  return undefined;
}

/**
 * How many test images the float model is compared on by default: the whole MNIST-style test set.
 * The float forward pass is ~10x the cost of the bit-exact one, so this is what sizes the Lambda.
 */
export const DEFAULT_FLOAT_COMPARE_IMAGES = 10_000;

export interface ConversionConfig {
  artifactBucket: string;
  datasetBucket: string;
  minAccuracyPercent: number;
  /** Test images (from the start) on which verify.json compares the float model with the params; 0 skips it. */
  floatCompareImages?: number;
}

export function conversionConfigFromEnv(env: Record<string, string | undefined>): ConversionConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value)
      throw new UserError(`environment variable ${name} is not set (the ConversionJob construct sets it)`);
    return value;
  };
  const floorText = env[CONVERSION_ENV.minAccuracyPercent]?.trim();
  const minAccuracyPercent = floorText ? Number(floorText) : DEFAULT_MIN_ACCURACY_PERCENT;
  if (accuracyFloorProblem(minAccuracyPercent) !== undefined) {
    throw new UserError(
      `${CONVERSION_ENV.minAccuracyPercent}=${JSON.stringify(floorText)} is not a percentage between ${ACCURACY_FLOOR.min} and ${ACCURACY_FLOOR.max}`,
    );
  }
  const compareText = env[CONVERSION_ENV.floatCompareImages]?.trim();
  const floatCompareImages = compareText ? Number(compareText) : DEFAULT_FLOAT_COMPARE_IMAGES;
  if (!Number.isInteger(floatCompareImages) || floatCompareImages < 0) {
    throw new UserError(
      `${CONVERSION_ENV.floatCompareImages}=${JSON.stringify(compareText)} is not a whole number of images (0 or more)`,
    );
  }
  return {
    artifactBucket: required(CONVERSION_ENV.artifactBucket),
    datasetBucket: required(CONVERSION_ENV.datasetBucket),
    minAccuracyPercent,
    floatCompareImages,
  };
}
