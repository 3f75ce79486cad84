import { GetObjectCommand } from '@aws-sdk/client-s3';
import { isOverlayName, type OverlayName } from '../bnn/overlays';
import { aws } from '../cloud/aws-errors';
import type { CloudClients } from '../cloud/clients';
import { readRun } from '../cloud/runs';
import { UserError } from '../errors';
import {
  CIFAR_DATASET_FORMAT,
  CIFAR_FILES,
  DATASET_MANIFEST_FILE,
  DEFAULT_NETWORK,
  datasetPrefix,
  IDX_FILES,
  runParamsPrefix,
} from '../layout';
import { type ParamSet, toParamSet } from '../param-folder/layout';
import { s3ParamFolders } from '../param-folder/s3';

/**
 * The param set of a run, read from S3 through its manifest (lib/param-folder/s3.ts: every file is checked
 * against manifest.json) and checked as a set (lib/param-folder/layout.ts toParamSet), in memory.
 */
export async function paramSetFromRun(
  clients: CloudClients,
  artifactBucket: string,
  runId: string,
  dataset?: string,
  network?: OverlayName,
): Promise<ParamSet> {
  // run.json names the dataset and the network; with --dataset given, a missing run.json is not fatal
  // (the param folder's manifest is what counts, and the read says when there is none).
  const read = () => readRun(clients, artifactBucket, runId, { verify: false }).then((r) => r.request);
  const request =
    dataset && network ? undefined : dataset ? await read().catch(() => undefined) : await read();
  const name = dataset ?? request?.dataset;
  if (!name) throw new UserError(`run ${runId}: its run.json names no dataset; pass --dataset <name>`);
  const ran = request?.network;
  const net: OverlayName = network ?? (ran && isOverlayName(ran) ? ran : DEFAULT_NETWORK);
  const folder = await s3ParamFolders(clients.s3, artifactBucket, (d, n) =>
    runParamsPrefix(runId, d, n),
  ).read(name, net, { label: `run ${runId}` });
  // Messages name the file inside the folder (`s3://…/lfcW1A1/0-0-thres.bin`); the set's source is the prefix.
  const set = toParamSet(folder.files, folder.source.replace(/\/$/, ''), name, net);
  return { ...set, source: folder.source };
}

/** A dataset's test split as the board's classifiers read it: idx3 images + labels (LFC) or CIFAR-10 records (CNV). */
export type TestFiles =
  | { kind: 'idx'; images: Uint8Array; labels: Uint8Array; imagesName: string; labelsName: string }
  | { kind: 'cifar'; records: Uint8Array; recordsName: string };

/**
 * The dataset's test files as the dataset bucket holds them: `datasets/<dataset>/t10k-*` for an idx
 * dataset, `test_batch.bin` for one whose dataset.json says `format: "cifar-bin"` (an imported colour
 * dataset, or CIFAR-10 as the instance caches it).
 */
export async function testFilesFromBucket(
  clients: CloudClients,
  datasetBucket: string,
  dataset: string,
): Promise<TestFiles> {
  const get = async (file: string) => {
    const key = `${datasetPrefix(dataset)}${file}`;
    const out = await aws(`s3:GetObject (s3://${datasetBucket}/${key})`, () =>
      clients.s3.send(new GetObjectCommand({ Bucket: datasetBucket, Key: key })),
    );
    return {
      bytes: await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      name: `s3://${datasetBucket}/${key}`,
    };
  };
  const manifest = await get(DATASET_MANIFEST_FILE).catch(() => undefined);
  let format: unknown;
  try {
    format = manifest ? JSON.parse(new TextDecoder().decode(manifest.bytes))?.format : undefined;
  } catch {
    throw new UserError(`${manifest?.name}: not valid JSON; upload the dataset again`);
  }
  if (format === CIFAR_DATASET_FORMAT) {
    const records = await get(CIFAR_FILES.test);
    return { kind: 'cifar', records: records.bytes, recordsName: records.name };
  }
  const [images, labels] = await Promise.all([get(IDX_FILES.testImages), get(IDX_FILES.testLabels)]);
  return {
    kind: 'idx',
    images: images.bytes,
    labels: labels.bytes,
    imagesName: images.name,
    labelsName: labels.name,
  };
}
