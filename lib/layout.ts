/**
 * One place for every name the parts of the system agree on: S3 keys, SSM parameter names,
 * run ids, dataset names. The CDK stack, the instance scripts (through the values passed to them),
 * the conversion Lambda and the CLI all derive their paths from here.
 *
 * DatasetBucket:  datasets/<dataset>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, classes.txt,
 *                 dataset.json (written last; SHA-256 of each file's decompressed bytes);
 *                 CNV datasets: data_batch_<n>.bin, test_batch.bin (CIFAR_FILES) instead of the idx files
 * ArtifactBucket: runs/<runId>/{run.json, progress.jsonl, train.log, checkpoint/, model.npz, result.json,
 *                 verify.json, params/<dataset>/<network>/...}
 *                 params/<dataset>/<network>/... (latest published, manifest.json written last)
 */

import { isOverlayName, OVERLAY_NAMES, type OverlayName } from './bnn/overlays';
import { TRAINING_PARAMETERS, tablePattern, trainingParameter } from './training/parameters';

export const DEFAULT_STACK_NAME = 'BnnPynq';
/** The overlays a run can be trained, converted and published for: the overlay table's names, one list. */
export const NETWORKS = OVERLAY_NAMES;
export type Network = OverlayName;
export const DEFAULT_NETWORK: Network = 'lfcW1A1';
export const isNetwork = isOverlayName;
/** A CNV dataset's test split: CIFAR-10 binary records (labels inside), what the board's classify_cifars reads. */
export const CIFAR_TEST_FILE = 'test_batch.bin';
export const BUILTIN_DATASETS = ['fashion-mnist', 'mnist', 'cifar10'] as const;
/** The `train` document's default dataset (scripts/instance/training-parameters.json). */
export const DEFAULT_DATASET = trainingParameter('dataset').default;

/** The four idx files of a dataset, under the names MNIST publishes them. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/**
 * A CNV (32×32 RGB) dataset: CIFAR-10 binary records as the official `cifar-10-batches-bin` archive names
 * them (1 label byte + 1,024 R + 1,024 G + 1,024 B bytes each); the training records are split over
 * data_batch_1.bin .. data_batch_N.bin, read in that order. dataset.json says `format: "cifar-bin"`.
 */
export const CIFAR_FILES = {
  test: 'test_batch.bin',
  train: (n: number): string => `data_batch_${n}.bin`,
  trainPattern: /^data_batch_([1-9][0-9]*)\.bin$/,
} as const;
export const CIFAR_DATASET_FORMAT = 'cifar-bin';

export const MANIFEST_FILE = 'manifest.json';
export const DATASET_MANIFEST_FILE = 'dataset.json';

/**
 * Dataset names: lower-case, digits and dashes; they become S3 prefixes and board folder names.
 * Defined in scripts/instance/training-parameters.json, which the instance's trainer reads too.
 */
export const DATASET_NAME_PATTERN = tablePattern('datasetName');
/** Run ids: e.g. 20261126-061500-fashion-mnist-a1b2 (sortable by start time). Same table as above. */
export const RUN_ID_PATTERN = tablePattern('runId');

/** Root of all datasets in the DatasetBucket (the instance may write below it to cache downloads). */
export const DATASET_ROOT_PREFIX = 'datasets/';
export const datasetPrefix = (dataset: string): string => `${DATASET_ROOT_PREFIX}${dataset}/`;
/** Where `dataset import` writes a dataset (and `dataset export-test` reads it) by default, relative to the working folder. */
export const localDatasetDir = (dataset: string): string => `datasets/${dataset}`;
/** Root of all runs in the ArtifactBucket; `runs/<runId>/` sorts by start time. */
export const RUNS_ROOT_PREFIX = 'runs/';
export const runPrefix = (runId: string): string => `${RUNS_ROOT_PREFIX}${runId}/`;
/** The dataset's contact sheet (written by `dataset import`, embedded in run reports). */
export const DATASET_PREVIEW_FILE = 'preview.png';
export const runKeys = (runId: string) => {
  const p = runPrefix(runId);
  return {
    request: `${p}run.json`,
    progress: `${p}progress.jsonl`,
    log: `${p}train.log`,
    checkpointPrefix: `${p}checkpoint/`,
    model: `${p}model.npz`,
    result: `${p}result.json`,
    verify: `${p}verify.json`,
  };
};
/**
 * S3 object tag the instance puts on checkpoint objects (`runs/<runId>/checkpoint/...`): the ArtifactBucket
 * lifecycle rule expires objects with this tag (lifecycle prefixes cannot wildcard the run id).
 */
export const CHECKPOINT_TAG = { key: 'bnn-pynq:kind', value: 'checkpoint' } as const;
/** Root of a run's own param folders: `runs/<runId>/params/<dataset>/<network>/`. */
export const runParamsRoot = (runId: string): string => `${runPrefix(runId)}params/`;
export const runParamsPrefix = (runId: string, dataset: string, network: string = DEFAULT_NETWORK): string =>
  `${runParamsRoot(runId)}${dataset}/${network}/`;
/** Root of the published param folders in the ArtifactBucket (`aws s3 sync s3://<artifacts>/params/ ./params/`). */
export const PARAMS_ROOT_PREFIX = 'params/';
export const publishedParamsPrefix = (dataset: string, network: string = DEFAULT_NETWORK): string =>
  `${PARAMS_ROOT_PREFIX}${dataset}/${network}/`;

/**
 * What the instance's first boot recorded, in the ArtifactBucket under `instance/<instance-id>/`: the one-epoch
 * measurement of the training path (bnn_train.smoke: device, its name, seconds per epoch) and the environment lock
 * (every conda package with version and build). Written by scripts/instance/bootstrap.sh, read by `bnn-pynq status`.
 */
export const INSTANCE_RECORD_PREFIX = 'instance/';
export const instanceRecordKeys = (instanceId: string) => ({
  firstEpoch: `${INSTANCE_RECORD_PREFIX}${instanceId}/first-epoch.json`,
  environmentLock: `${INSTANCE_RECORD_PREFIX}${instanceId}/environment.lock.txt`,
});

/** SSM parameters the stack writes for discovery: `/bnn-pynq/<stackName>/<key>`. */
export const DISCOVERY_KEYS = [
  'dataset-bucket',
  'artifact-bucket',
  'instance-id',
  'log-group',
  'train-document',
  'convert-document',
  'bootstrap-state',
] as const;
export type DiscoveryKey = (typeof DISCOVERY_KEYS)[number];
/**
 * Discovery parameters of the sweeps construct (lib/constructs/sweeps.ts). Optional: a stack deployed with
 * `-c sweeps=false` has none, and only `bnn-pynq sweep` needs them.
 */
export const SWEEP_DISCOVERY_KEYS = [
  'sweep-job-queue',
  'sweep-job-queue-on-demand',
  'sweep-job-definition',
  'sweep-image-repository',
  'sweep-image-project',
  'sweep-image-tag',
] as const;
export type SweepDiscoveryKey = (typeof SWEEP_DISCOVERY_KEYS)[number];
export type AnyDiscoveryKey = DiscoveryKey | SweepDiscoveryKey;
export const discoveryPrefix = (stackName: string): string => `/bnn-pynq/${stackName}/`;
export const discoveryParameter = (stackName: string, key: AnyDiscoveryKey): string =>
  `${discoveryPrefix(stackName)}${key}`;

/**
 * Sweeps (`bnn-pynq sweep`): ArtifactBucket `sweeps/<sweepId>/sweep.json` lists the grid and, in array-index
 * order, the run id of every run; each run is an ordinary `runs/<runId>/` whose run.json carries `sweepId`.
 * Sweep ids sort by creation time like run ids; a run id is `<sweepId>-<index>` (index zero-padded).
 */
export const SWEEPS_ROOT_PREFIX = 'sweeps/';
export const SWEEP_ID_PATTERN = /^[0-9]{8}-[0-9]{6}-sweep-[0-9a-f]{4}$/;
export const sweepKey = (sweepId: string): string => `${SWEEPS_ROOT_PREFIX}${sweepId}/sweep.json`;
export function newSweepId(now: Date = new Date(), random: () => number = Math.random): string {
  return newRunId('sweep', now, random);
}
export const sweepRunId = (sweepId: string, index: number, total: number): string =>
  `${sweepId}-${String(index).padStart(Math.max(3, String(Math.max(0, total - 1)).length), '0')}`;

/** A new run id: UTC start time, dataset, 4 random hex digits. */
export function newRunId(
  dataset: string,
  now: Date = new Date(),
  random: () => number = Math.random,
): string {
  const iso = now.toISOString(); // 2026-11-26T06:15:00.000Z
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return `${stamp}-${dataset}-${suffix}`;
}

/** `runs/<runId>/state.json`: where a run is; written by the instance, read by the CLI. */
export const RUN_STATES = ['starting', 'running', 'succeeded', 'failed', 'stopped'] as const;
export type RunState = (typeof RUN_STATES)[number];
export const runStateKey = (runId: string): string => `${runPrefix(runId)}state.json`;

/** CloudWatch log streams (in the stack's log group). */
export const logStreams = {
  bootstrap: (instanceId: string): string => `bootstrap/${instanceId}`,
  run: (runId: string): string => `runs/${runId}`,
};

/**
 * Bootstrap state published by the instance in the `bootstrap-state` SSM parameter (and an instance tag
 * `bnn-pynq:bootstrap`): `pending` (just deployed), `installing`, `ready: gpu`, `ready: cpu`,
 * `ready: cpu (gpu check failed: <reason>)`, `failed: <step>`.
 */
export const BOOTSTRAP_STATE_TAG = 'bnn-pynq:bootstrap';

/** Parameters of the SSM Command document `train` (all strings, as SSM passes them): the training-parameter table's. */
export const TRAIN_DOCUMENT_PARAMETERS: readonly string[] = TRAINING_PARAMETERS.map((p) => p.name);

/** Parameters of the SSM Automation document `convert`. */
export const CONVERT_AUTOMATION_PARAMETERS = ['runId', 'dataset', 'network', 'publish'] as const;
