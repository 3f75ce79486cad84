import type { S3Client } from '@aws-sdk/client-s3';
import { InputFormatError, UserError } from '../errors';
import {
  CIFAR_TEST_FILE,
  DATASET_NAME_PATTERN,
  DEFAULT_DATASET,
  DEFAULT_NETWORK,
  datasetPrefix,
  IDX_FILES,
  isNetwork,
  type Network,
  publishedParamsPrefix,
  runKeys,
  runParamsPrefix,
} from '../layout';
import { sha256Hex } from '../manifest';
import { s3ParamFolders } from '../param-folder/s3';
import { type ConversionConfig, DEFAULT_FLOAT_COMPARE_IMAGES } from './config';
import { type ClassNames, type ConversionOutcome, convertAndVerify } from './engine';
import type { ConversionRequest } from './request';
import { getObjectBytes, listObjects, putObjectBytes, s3Uri } from './s3-objects';
import { buildVerifyReport } from './verify-report';

/**
 * The conversion job, start to end:
 *   read runs/<runId>/model.npz (+ run.json for the dataset) and the dataset's test set
 *   -> convert -> verify with the hardware-exact simulator
 *   -> write runs/<runId>/params/<dataset>/<network>/ (manifest last) and runs/<runId>/verify.json
 *   -> publish params/<dataset>/<network>/ (manifest last), unless refused.
 * Refusals (bad npz, missing inputs, accuracy below the floor) throw a ConversionRefused before
 * anything under params/ is touched.
 */

export class ConversionRefused extends UserError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: 3, cause: options.cause });
    this.name = 'ConversionRefused';
  }
}

export interface ConversionSummary {
  runId: string;
  dataset: string;
  network: string;
  /** Board-rule accuracy on the test set, percent. */
  accuracy: number;
  minAccuracyPercent: number;
  published: boolean;
  /** Why it was not published (publish=false, or nothing changed is still "published"). */
  note: string;
  runParams: string;
  verifyReport: string;
  publishedParams: string | null;
  /** Files uploaded / deleted in the published folder by this run (0/0 when it already held these params). */
  publishedChanges: { written: number; deleted: number; manifestWritten: boolean } | null;
}

export interface ConversionDeps {
  s3: S3Client;
  config: ConversionConfig;
  log?: (message: string) => void;
  now?: () => Date;
}

/** True when exactly this key exists (listing first, so a missing object is "missing", never "forbidden"). */
async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await listObjects(s3, bucket, key)).some((o) => o.key === key);
}

async function readRequired(s3: S3Client, bucket: string, key: string, hint: string): Promise<Uint8Array> {
  const bytes = (await exists(s3, bucket, key)) ? await getObjectBytes(s3, { bucket, key }) : undefined;
  if (!bytes) throw new ConversionRefused(`${s3Uri({ bucket, key })} does not exist; ${hint}`);
  return bytes;
}

async function readOptional(s3: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> {
  return (await exists(s3, bucket, key)) ? await getObjectBytes(s3, { bucket, key }) : undefined;
}

/**
 * The dataset and network: the request's, else run.json's `dataset` / `network` (what the run was trained as),
 * else the defaults; and run.json's `sweepId` when the run belongs to a sweep.
 */
async function resolveRun(
  deps: ConversionDeps,
  request: ConversionRequest,
): Promise<{ dataset: string; network: Network; sweepId?: string }> {
  // `publish=auto` needs run.json's sweepId even when dataset and network are given.
  if (request.dataset && request.network && request.publish !== 'auto')
    return { dataset: request.dataset, network: request.network };
  const { artifactBucket } = deps.config;
  const key = runKeys(request.runId).request;
  const bytes = await readOptional(deps.s3, artifactBucket, key);
  let run: { dataset?: unknown; network?: unknown; sweepId?: unknown } = {};
  if (bytes) {
    try {
      run = JSON.parse(Buffer.from(bytes).toString('utf8')) ?? {};
    } catch {
      throw new ConversionRefused(
        `${s3Uri({ bucket: artifactBucket, key })} is not valid JSON; pass the dataset and network parameters explicitly`,
      );
    }
  }
  const given = (v: unknown) => v !== undefined && v !== null && v !== '';
  const dataset = request.dataset ?? (given(run.dataset) ? run.dataset : DEFAULT_DATASET);
  if (typeof dataset !== 'string' || !DATASET_NAME_PATTERN.test(dataset)) {
    throw new ConversionRefused(
      `${s3Uri({ bucket: artifactBucket, key })}: dataset ${JSON.stringify(dataset)} is not a dataset name; pass the dataset parameter explicitly`,
    );
  }
  const network = request.network ?? (given(run.network) ? run.network : DEFAULT_NETWORK);
  if (typeof network !== 'string' || !isNetwork(network)) {
    throw new ConversionRefused(
      `${s3Uri({ bucket: artifactBucket, key })}: network ${JSON.stringify(network)} is not an overlay; pass the network parameter explicitly`,
    );
  }
  const sweepId = typeof run.sweepId === 'string' && run.sweepId !== '' ? run.sweepId : undefined;
  return { dataset, network, sweepId };
}

export async function runConversion(
  deps: ConversionDeps,
  request: ConversionRequest,
): Promise<ConversionSummary> {
  const { s3, config } = deps;
  const log = deps.log ?? (() => {});
  const { runId } = request;
  const { artifactBucket, datasetBucket } = config;
  const keys = runKeys(runId);

  const { dataset, network, sweepId } = await resolveRun(deps, request);
  // `auto` (the model-upload trigger): a single train run publishes; a sweep run never does by itself, since the
  // last run to finish is not the best one (`bnn-pynq sweep best --publish` chooses by validation error).
  const publish = request.publish === 'auto' ? sweepId === undefined : request.publish;
  const modelUri = s3Uri({ bucket: artifactBucket, key: keys.model });
  const npz = await readRequired(
    s3,
    artifactBucket,
    keys.model,
    'has the training run finished? (bnn-pynq status shows its state)',
  );
  const dsPrefix = datasetPrefix(dataset);
  const stageHint = `stage the dataset first (bnn-pynq dataset upload ${dataset}), or pass the dataset the run was trained on`;
  const cnv = network.startsWith('cnv');
  // CNV: the test split as CIFAR-10 binary records (labels inside), the file the board's classify_cifars reads.
  const imagesKey = `${dsPrefix}${cnv ? CIFAR_TEST_FILE : IDX_FILES.testImages}`;
  const labelsKey = cnv ? imagesKey : `${dsPrefix}${IDX_FILES.testLabels}`;
  // Read in parallel, but report a failure in this order (images, labels, classes), not whichever lost the race.
  const [images, labels, classesFile] = await inOrder([
    readRequired(s3, datasetBucket, imagesKey, stageHint),
    cnv ? Promise.resolve(undefined) : readRequired(s3, datasetBucket, labelsKey, stageHint),
    readOptional(s3, datasetBucket, `${dsPrefix}classes.txt`),
  ] as const);
  const classNames: ClassNames = classesFile
    ? { source: s3Uri({ bucket: datasetBucket, key: `${dsPrefix}classes.txt` }), bytes: classesFile }
    : { source: 'preset', dataset };
  const imagesName = s3Uri({ bucket: datasetBucket, key: imagesKey });
  log(`run ${runId}: converting ${modelUri} (${npz.length} bytes) for ${dataset}/${network}`);

  let outcome: ConversionOutcome;
  try {
    outcome = convertAndVerify({
      network,
      npz,
      npzName: modelUri,
      testSet: labels
        ? {
            kind: 'idx',
            images,
            imagesName,
            labels,
            labelsName: s3Uri({ bucket: datasetBucket, key: labelsKey }),
          }
        : { kind: 'cifar', records: images, recordsName: imagesName },
      classes: classNames,
      floatCompareImages: config.floatCompareImages ?? DEFAULT_FLOAT_COMPARE_IMAGES,
    });
  } catch (err) {
    if (err instanceof UserError) {
      const what = err instanceof InputFormatError ? 'invalid input' : 'cannot convert';
      throw new ConversionRefused(`${what}: ${err.message}; nothing was published`, { cause: err });
    }
    throw err;
  }
  const accuracy = outcome.board.accuracy;
  log(
    `run ${runId}: board accuracy ${accuracy.toFixed(2)} % on ${outcome.board.total} test images ` +
      `(${outcome.microsecondsPerImage.toFixed(1)} us/image)`,
  );

  const content = { runId, dataset, network, accuracy, files: outcome.files };
  const runParams = runParamsPrefix(runId, dataset, network);
  await s3ParamFolders(s3, artifactBucket, (d, n) => runParamsPrefix(runId, d, n), deps.now).write(content);

  const belowFloor = accuracy < config.minAccuracyPercent;
  const floorText = `board accuracy ${accuracy.toFixed(2)} % on the ${dataset} test set is below the floor of ${config.minAccuracyPercent} %`;
  const decision = !publish
    ? request.publish === 'auto'
      ? `not requested (sweep run of ${sweepId}: \`bnn-pynq sweep best ${sweepId} --publish\` publishes the best run)`
      : 'not requested (publish=false)'
    : belowFloor
      ? `refused: ${floorText}`
      : 'published';
  const report = buildVerifyReport({
    runId,
    dataset,
    network,
    model: { key: keys.model, sha256: sha256Hex(npz), size: npz.length },
    testSet: { images: imagesKey, labels: labelsKey },
    outcome,
    runParams,
    minAccuracyPercent: config.minAccuracyPercent,
    publish: { requested: publish, decision },
  });
  await putIfChanged(s3, artifactBucket, keys.verify, report);

  const verifyUri = s3Uri({ bucket: artifactBucket, key: keys.verify });
  const base: Omit<ConversionSummary, 'published' | 'note' | 'publishedParams' | 'publishedChanges'> = {
    runId,
    dataset,
    network,
    accuracy,
    minAccuracyPercent: config.minAccuracyPercent,
    runParams: s3Uri({ bucket: artifactBucket, key: runParams }),
    verifyReport: verifyUri,
  };
  const target = publishedParamsPrefix(dataset, network);
  if (publish && belowFloor) {
    throw new ConversionRefused(
      `refused to publish ${s3Uri({ bucket: artifactBucket, key: target })}: ${floorText}. ` +
        `The previous published params are untouched; details in ${verifyUri}, the run's params in ${base.runParams}`,
    );
  }
  if (!publish) {
    const why = request.publish === 'auto' ? `sweep run of ${sweepId}` : 'publish=false';
    return {
      ...base,
      published: false,
      note: belowFloor ? `not published (${why}); ${floorText}` : `not published (${why})`,
      publishedParams: null,
      publishedChanges: null,
    };
  }
  const result = await s3ParamFolders(s3, artifactBucket, publishedParamsPrefix, deps.now).write(content);
  log(
    `run ${runId}: published ${s3Uri({ bucket: artifactBucket, key: target })} ` +
      `(${result.written.length} files written, ${result.deleted.length} deleted, manifest ${result.manifestWritten ? 'written' : 'unchanged'})`,
  );
  return {
    ...base,
    published: true,
    note: result.manifestWritten ? 'published' : 'already published (no change)',
    publishedParams: s3Uri({ bucket: artifactBucket, key: target }),
    publishedChanges: {
      written: result.written.length,
      deleted: result.deleted.length,
      manifestWritten: result.manifestWritten,
    },
  };
}

/** Writes the object unless it already holds exactly these bytes (no new version on a re-run). */
async function putIfChanged(s3: S3Client, bucket: string, key: string, bytes: Uint8Array): Promise<void> {
  const old = await readOptional(s3, bucket, key);
  if (old && Buffer.from(old).equals(Buffer.from(bytes))) return;
  await putObjectBytes(s3, { bucket, key }, bytes, 'application/json');
}

/** `Promise.all`, except that the error thrown is the first failure in list order, so messages are deterministic. */
async function inOrder<T extends readonly unknown[]>(
  promises: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(promises);
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
