import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { listObjects } from '../../lib/conversion/s3-objects';
import { createConvertHandler } from '../../lib/lambda/convert-handler';
import { IDX_FILES, publishedParamsPrefix, runKeys } from '../../lib/layout';
import { checkAgainstManifest, parseManifest } from '../../lib/manifest';
import { SHARED_DATA } from '../support/cli';
import { type LocalS3, newLocalS3Client, startLocalS3 } from '../support/s3-server';

// The conversion Lambda's handler for the other overlays, in-process against the loopback S3 server: the network
// comes from run.json (what the run was trained as), a CNV test set is CIFAR-10 binary records, and the
// reconstructed cifar10 cnvW1A1 npz must become BNN-PYNQ's shipped cifar10/cnvW1A1 folder byte for byte, under
// params/<dataset>/<network>/ next to other networks' folders.

jest.setTimeout(300_000);

const ARTIFACTS = 'artifacts';
const DATASETS = 'datasets';
const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const BOARD_IMAGES = path.join(SHARED_DATA, 'cnv-board-images');
const CNV_RUN = '20261201-130000-cifar10-c0de';
const LFC_RUN = '20261201-130000-mnist-a2a2';

let s3: LocalS3;
const put = (bucket: string, key: string, body: Uint8Array | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
async function get(bucket: string, key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}
const handler = (minAccuracyPercent = 50) =>
  createConvertHandler({
    s3: newLocalS3Client(s3.endpoint),
    config: { artifactBucket: ARTIFACTS, datasetBucket: DATASETS, minAccuracyPercent, floatCompareImages: 4 },
    log: () => {},
    now: () => new Date('2026-12-01T13:00:00.000Z'),
  });

/** A finished training run in the artifact bucket: its model.npz (a shared/data npz file) and its run.json. */
async function putRun(runId: string, npz: string, request: Record<string, string>): Promise<void> {
  await put(ARTIFACTS, runKeys(runId).model, readFileSync(path.join(SHARED_DATA, 'npz', npz)));
  await put(ARTIFACTS, runKeys(runId).request, JSON.stringify({ runId, ...request }));
}

/** The published folder's files (manifest.json apart) and its manifest. */
async function published(dataset: string, network: string) {
  const prefix = publishedParamsPrefix(dataset, network);
  const files = new Map<string, Buffer>();
  for (const o of await listObjects(s3.client, ARTIFACTS, prefix))
    files.set(o.key.slice(prefix.length), await get(ARTIFACTS, o.key));
  const manifest = parseManifest(String(files.get('manifest.json')), prefix);
  files.delete('manifest.json');
  return { files, manifest };
}

function expectShipped(files: Map<string, Buffer>, shippedDir: string): void {
  const shipped = readdirSync(shippedDir);
  expect([...files.keys()].sort()).toEqual(shipped.sort());
  for (const name of shipped)
    expect({ name, same: files.get(name)?.equals(readFileSync(path.join(shippedDir, name))) }).toEqual({
      name,
      same: true,
    });
}

// The test split: the four images whose board scores BNN-PYNQ's notebooks printed, as CIFAR-10 records with their
// true labels (airplane 0, automobile 1, bird 2, deer 4).
const TEST_RECORDS = Buffer.concat(
  (
    [
      ['airplane', 0],
      ['car', 1],
      ['bird', 2],
      ['deer', 4],
    ] as const
  ).map(([name, label]) => {
    const rec = Buffer.from(readFileSync(path.join(BOARD_IMAGES, `${name}-notebook.bin`)));
    rec[0] = label;
    return rec;
  }),
);

beforeAll(async () => {
  s3 = await startLocalS3([ARTIFACTS, DATASETS]);
  await put(DATASETS, 'datasets/cifar10/test_batch.bin', TEST_RECORDS);
  await put(
    DATASETS,
    'datasets/cifar10/classes.txt',
    readFileSync(path.join(PARAMS, 'cifar10', 'cnvW1A1', 'classes.txt')),
  );
  for (const f of [IDX_FILES.testImages, IDX_FILES.testLabels])
    await put(DATASETS, `datasets/mnist/${f}`, readFileSync(path.join(SHARED_DATA, 'mnist', f)));
  await put(
    DATASETS,
    'datasets/mnist/classes.txt',
    readFileSync(path.join(PARAMS, 'mnist', 'lfcW1A2', 'classes.txt')),
  );
}, 60_000);
afterAll(async () => {
  await s3?.stop();
});

test('cnvW1A1 (network and dataset from run.json): the shipped cifar10/cnvW1A1 folder byte for byte, verified on CIFAR-10 records', async () => {
  await putRun(CNV_RUN, 'cifar10-cnvW1A1-reconstructed.npz', { dataset: 'cifar10', network: 'cnvW1A1' });
  const summary = await handler()({ runId: `runs/${CNV_RUN}/model.npz` }); // as the S3 event passes it
  expect(summary).toMatchObject({
    runId: CNV_RUN,
    dataset: 'cifar10',
    network: 'cnvW1A1',
    published: true,
    accuracy: 100,
  });

  const { files, manifest } = await published('cifar10', 'cnvW1A1');
  expectShipped(files, path.join(PARAMS, 'cifar10', 'cnvW1A1'));
  expect(manifest).toMatchObject({ runId: CNV_RUN, dataset: 'cifar10', network: 'cnvW1A1', accuracy: 100 });
  expect(manifest.files).toHaveLength(179);
  expect(checkAgainstManifest(manifest, files)).toEqual([]);

  const report = JSON.parse((await get(ARTIFACTS, runKeys(CNV_RUN).verify)).toString('utf8'));
  expect(report).toMatchObject({
    network: 'cnvW1A1',
    testSet: {
      images: 'datasets/cifar10/test_batch.bin',
      labels: 'datasets/cifar10/test_batch.bin',
      count: 4,
    },
    board: {
      rule: 'first maximum score, 0 if every score <= 0 (BNN-PYNQ batch path)',
      accuracy: 100,
      allScoresNonPositive: 0,
    },
    publish: { requested: true, decision: 'published' },
  });
  // the float model next to it: the reconstructed model has gamma < 0 channels before its pools
  expect(report.float).toMatchObject({ images: 4 });
  expect(Object.keys(report.float.causes).sort()).toEqual([
    'lastLayerAndRule',
    'poolOrder',
    'thresholdRounding',
  ]);
});

test('lfcW1A2 (network from the request): the shipped mnist/lfcW1A2 folder, 98.49 % on MNIST, beside cifar10/cnvW1A1', async () => {
  await putRun(LFC_RUN, 'mnist-lfcW1A2-reconstructed.npz', { dataset: 'mnist' });
  const summary = await handler()({ runId: LFC_RUN, network: 'lfcW1A2' });
  expect(summary).toMatchObject({ dataset: 'mnist', network: 'lfcW1A2', published: true });
  expect(summary.accuracy.toFixed(2)).toBe('98.49');
  expectShipped((await published('mnist', 'lfcW1A2')).files, path.join(PARAMS, 'mnist', 'lfcW1A2'));
  // the CNV folder published before is still there, untouched
  expect((await published('cifar10', 'cnvW1A1')).manifest.runId).toBe(CNV_RUN);
});

test('the floor applies to every overlay: a CNV run below it publishes nothing and says why', async () => {
  const run = '20261201-130000-cifar10-f100';
  await putRun(run, 'cifar10-cnvW1A2-reconstructed.npz', { dataset: 'cifar10', network: 'cnvW1A2' });
  // a floor above 100 % can never be met, whatever the four images score
  await expect(handler(100.5)({ runId: run })).rejects.toThrow(
    /refused to publish s3:\/\/artifacts\/params\/cifar10\/cnvW1A2\/: board accuracy [\d.]+ % on the cifar10 test set is below the floor of 100.5 %/,
  );
  expect(await listObjects(s3.client, ARTIFACTS, publishedParamsPrefix('cifar10', 'cnvW1A2'))).toEqual([]);
});

test('a network the run.json names but the npz does not fit is refused with the array at fault', async () => {
  const run = '20261201-130000-cifar10-bad1';
  await putRun(run, 'mnist-lfcW1A2-reconstructed.npz', { dataset: 'cifar10', network: 'cnvW1A1' });
  await expect(handler()({ runId: run })).rejects.toThrow(/invalid input: .*arr_0.*nothing was published/);
});
