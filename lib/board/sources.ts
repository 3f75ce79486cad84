import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { aws } from '../cloud/aws-errors';
import type { CloudClients } from '../cloud/clients';
import { fetchParams } from '../cloud/fetch';
import { readRun } from '../cloud/runs';
import { UserError } from '../errors';
import { datasetPrefix, IDX_FILES, runParamsPrefix } from '../layout';
import { loadLocalParamSet, type ParamSet } from './param-set';

/**
 * The param set of a run, fetched from S3 through its manifest (lib/cloud fetchParams: every file is
 * checked against manifest.json) into a temp folder that is removed afterwards.
 */
export async function paramSetFromRun(
  clients: CloudClients,
  artifactBucket: string,
  runId: string,
  dataset?: string,
): Promise<ParamSet> {
  const name = dataset ?? (await readRun(clients, artifactBucket, runId, { verify: false })).request?.dataset;
  if (!name) throw new UserError(`run ${runId}: its run.json names no dataset; pass --dataset <name>`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bnn-pynq-push-'));
  try {
    const fetched = await fetchParams(
      clients,
      { bucket: artifactBucket, prefix: runParamsPrefix(runId, name), dataset: name, label: `run ${runId}` },
      tmp,
    );
    const set = loadLocalParamSet(fetched.folder);
    return { ...set, dataset: name, source: `s3://${artifactBucket}/${runParamsPrefix(runId, name)}` };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The dataset's test idx files as the dataset bucket holds them (datasets/<dataset>/t10k-*). */
export async function testFilesFromBucket(
  clients: CloudClients,
  datasetBucket: string,
  dataset: string,
): Promise<{ images: Uint8Array; labels: Uint8Array; imagesName: string; labelsName: string }> {
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
  const [images, labels] = await Promise.all([get(IDX_FILES.testImages), get(IDX_FILES.testLabels)]);
  return { images: images.bytes, labels: labels.bytes, imagesName: images.name, labelsName: labels.name };
}
