import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_MIN_ACCURACY_PERCENT } from '../../lib/conversion/config';
import { listObjects } from '../../lib/conversion/s3-objects';
import { answerRefusals, createConvertHandler } from '../../lib/lambda/convert-handler';
import { IDX_FILES, publishedParamsPrefix, runKeys, runParamsPrefix } from '../../lib/layout';
import { checkAgainstManifest, parseManifest, sha256Hex } from '../../lib/manifest';
import { SHARED_DATA } from '../support/cli';
import { type LocalS3, newLocalS3Client, startLocalS3 } from '../support/s3-server';

// The conversion Lambda's handler, run in-process against the loopback S3 server with the real fixtures:
// the reconstructed MNIST npz must become BNN-PYNQ's shipped mnist/lfcW1A1 folder, byte for byte.

// Generous: these tests share 2 cores with everyone else's (a conversion is ~1 s on an idle core).
jest.setTimeout(300_000);

const ARTIFACTS = 'artifacts';
const DATASETS = 'datasets';
const SHIPPED = path.join(SHARED_DATA, 'bnn-pynq', 'params', 'mnist', 'lfcW1A1');
const NPZ = readFileSync(path.join(SHARED_DATA, 'npz', 'mnist-lfc-w1a1-reconstructed.npz'));
const RUN = '20261126-061500-mnist-a1b2';
const PUBLISHED = publishedParamsPrefix('mnist');

let s3: LocalS3;
/** S3 commands the handler sent (its own client, so the test's reads and writes are not counted). */
let sent: string[] = [];
let handlerClient: S3Client;

function countingClient(endpoint: string): S3Client {
  const client = newLocalS3Client(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName as string);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return client;
}

const handlerFor = (minAccuracyPercent = DEFAULT_MIN_ACCURACY_PERCENT) =>
  createConvertHandler({
    s3: handlerClient,
    // The float comparison on 300 images keeps this file fast; the board accuracy always uses all 10k.
    config: {
      artifactBucket: ARTIFACTS,
      datasetBucket: DATASETS,
      minAccuracyPercent,
      floatCompareImages: 300,
    },
    log: () => {},
    now: () => new Date('2026-11-26T07:00:00.000Z'),
  });

const put = (bucket: string, key: string, body: Uint8Array | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

async function get(bucket: string, key: string): Promise<Buffer> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

/** Every object under a prefix: key -> bytes. */
async function snapshot(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const o of await listObjects(s3.client, ARTIFACTS, prefix))
    out.set(o.key, await get(ARTIFACTS, o.key));
  return out;
}

const shippedFiles = (): Map<string, Buffer> =>
  new Map(readdirSync(SHIPPED).map((name) => [name, readFileSync(path.join(SHIPPED, name))]));

async function uploadRun(runId: string, npz: Uint8Array, runJson?: object): Promise<void> {
  await put(ARTIFACTS, runKeys(runId).model, npz);
  if (runJson) await put(ARTIFACTS, runKeys(runId).request, JSON.stringify(runJson));
}

beforeAll(async () => {
  s3 = await startLocalS3([ARTIFACTS, DATASETS]);
  handlerClient = countingClient(s3.endpoint);
  await put(
    DATASETS,
    `datasets/mnist/${IDX_FILES.testImages}`,
    readFileSync(path.join(SHARED_DATA, 'mnist', IDX_FILES.testImages)),
  );
  await put(
    DATASETS,
    `datasets/mnist/${IDX_FILES.testLabels}`,
    readFileSync(path.join(SHARED_DATA, 'mnist', IDX_FILES.testLabels)),
  );
  // BNN-PYNQ's own class file (CRLF line ends): the job must publish it as is.
  await put(DATASETS, 'datasets/mnist/classes.txt', readFileSync(path.join(SHIPPED, 'classes.txt')));
  // The dataset comes from run.json here (the train document writes it); no dataset parameter.
  await uploadRun(RUN, NPZ, { runId: RUN, dataset: 'mnist' });
}, 60_000);
afterAll(async () => {
  handlerClient?.destroy();
  await s3?.stop();
});

describe('a good run', () => {
  let first: Map<string, Buffer>;

  test('publishes the 289 shipped files byte for byte, manifest.json, and verify.json with 98.40 %', async () => {
    const summary = await handlerFor()({ runId: RUN });
    expect(summary).toMatchObject({ runId: RUN, dataset: 'mnist', network: 'lfcW1A1', published: true });
    expect(summary.accuracy.toFixed(2)).toBe('98.40');

    const shipped = shippedFiles();
    expect(shipped.size).toBe(289);
    for (const prefix of [PUBLISHED, runParamsPrefix(RUN, 'mnist')]) {
      const folder = await snapshot(prefix);
      const files = new Map([...folder].map(([key, bytes]) => [key.slice(prefix.length), bytes]));
      const manifestBytes = files.get('manifest.json');
      expect(manifestBytes).toBeDefined();
      files.delete('manifest.json');
      expect([...files.keys()].sort()).toEqual([...shipped.keys()].sort());
      for (const [name, bytes] of shipped)
        expect({ name, same: files.get(name)?.equals(bytes) }).toEqual({ name, same: true });

      const manifest = parseManifest(String(manifestBytes), prefix);
      expect(manifest).toMatchObject({ runId: RUN, dataset: 'mnist', network: 'lfcW1A1' });
      expect(manifest.accuracy?.toFixed(2)).toBe('98.40');
      expect(manifest.files).toHaveLength(289);
      const entry = manifest.files.find((f) => f.path === '0-0-weights.bin');
      const bytes = shipped.get('0-0-weights.bin') ?? Buffer.alloc(0);
      expect(entry).toEqual({ path: '0-0-weights.bin', sha256: sha256Hex(bytes), size: bytes.length });
      expect(checkAgainstManifest(manifest, files)).toEqual([]);
    }

    const report = JSON.parse((await get(ARTIFACTS, runKeys(RUN).verify)).toString('utf8'));
    expect(report).toMatchObject({
      schema: 'bnn-pynq-verify/1',
      runId: RUN,
      dataset: 'mnist',
      network: 'lfcW1A1',
      model: { key: runKeys(RUN).model, sha256: sha256Hex(NPZ), size: NPZ.length },
      testSet: { count: 10000 },
      board: { correct: 9840, total: 10000, accuracy: 98.4 },
      publish: { requested: true, decision: 'published' },
    });
    expect(report.board.perClass).toHaveLength(10);
    expect(report.board.perClass[0]).toEqual({
      index: 0,
      name: '0',
      total: 980,
      correct: expect.any(Number),
      accuracy: expect.any(Number),
    });
    // The reconstructed model is the shipped params' exact float counterpart: on the compared images the
    // float model under the board rule and the bit-exact simulator agree everywhere.
    expect(report.float).toMatchObject({
      images: 300,
      agreementWithHardware: { same: 300, percent: 100 },
      disagreements: [],
    });
    expect(report.classesSource).toBe('s3://datasets/datasets/mnist/classes.txt');
    expect(report.board.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(10000);
    first = await snapshot('');
  });

  test('running it again sends no write to S3 and changes no byte', async () => {
    sent = [];
    const summary = await handlerFor()({ runId: `runs/${RUN}/model.npz` }); // the form the S3 event carries
    expect(summary).toMatchObject({ published: true, note: 'already published (no change)' });
    expect(summary.publishedChanges).toEqual({ written: 0, deleted: 0, manifestWritten: false });
    expect(sent.filter((c) => /Put|Delete|Copy/.test(c))).toEqual([]);
    const again = await snapshot('');
    expect([...again.keys()]).toEqual([...first.keys()]);
    for (const [key, bytes] of first)
      expect({ key, same: again.get(key)?.equals(bytes) }).toEqual({ key, same: true });
  });

  test('aws s3 sync of params/ yields a folder that matches its manifest', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'params-sync-'));
    execFileSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'sync', `s3://${ARTIFACTS}/params/`, out], {
      env: { ...process.env, ...s3.env },
    });
    const folder = path.join(out, 'mnist', 'lfcW1A1');
    const files = new Map(readdirSync(folder).map((n) => [n, readFileSync(path.join(folder, n))]));
    const manifest = parseManifest(String(files.get('manifest.json')), folder);
    files.delete('manifest.json');
    expect(checkAgainstManifest(manifest, files)).toEqual([]);
    expect(files.size).toBe(289);
  });
});

describe('refusals leave the published params untouched', () => {
  test('a bad npz fails with a clear message and publishes nothing', async () => {
    const before = await snapshot(PUBLISHED);
    const bad = 'bad-npz-run-0001';
    await uploadRun(bad, NPZ.subarray(0, 100_000)); // truncated upload
    sent = [];
    await expect(handlerFor()({ runId: bad, dataset: 'mnist' })).rejects.toThrow(
      /^invalid input: s3:\/\/artifacts\/runs\/bad-npz-run-0001\/model\.npz: .*; nothing was published$/,
    );
    expect(sent.filter((c) => /Put|Delete|Copy/.test(c))).toEqual([]);
    expect(await snapshot(`runs/${bad}/`)).toEqual(new Map([[runKeys(bad).model, NPZ.subarray(0, 100_000)]]));
    expect(await snapshot(PUBLISHED)).toEqual(before);
  });

  test('an accuracy below the floor (99 %) fails, keeps the old params, and records why', async () => {
    const before = await snapshot(PUBLISHED);
    const low = 'low-accuracy-run-0002';
    await uploadRun(low, NPZ);
    await expect(handlerFor(99)({ runId: low, dataset: 'mnist' })).rejects.toThrow(
      'refused to publish s3://artifacts/params/mnist/lfcW1A1/: board accuracy 98.40 % on the mnist test set is below the floor of 99 %. ' +
        'The previous published params are untouched; details in s3://artifacts/runs/low-accuracy-run-0002/verify.json',
    );
    expect(await snapshot(PUBLISHED)).toEqual(before);
    const report = JSON.parse((await get(ARTIFACTS, runKeys(low).verify)).toString('utf8'));
    expect(report.publish).toEqual({
      requested: true,
      decision: 'refused: board accuracy 98.40 % on the mnist test set is below the floor of 99 %',
    });
    expect(report.minAccuracyPercent).toBe(99);
  });

  test('a run that does not exist, or a dataset that is not staged, is named in the error', async () => {
    await expect(handlerFor()({ runId: 'no-such-run-0003', dataset: 'mnist' })).rejects.toThrow(
      's3://artifacts/runs/no-such-run-0003/model.npz does not exist; has the training run finished?',
    );
    const noDataset = 'no-dataset-run-0004';
    await uploadRun(noDataset, NPZ); // no run.json: the default dataset, fashion-mnist, is not staged here
    await expect(handlerFor()({ runId: noDataset })).rejects.toThrow(
      's3://datasets/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz does not exist; stage the dataset first',
    );
  });
});

describe('the class-name rule (the same as convert --classes and dataset import)', () => {
  // A dataset's classes.txt that breaks the rule is the user's input: the Lambda answers a handled
  // refusal naming the file and the line, and publishes nothing.
  const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  const cases: Array<[string, string, RegExp]> = [
    [
      'dup',
      `${[...names.slice(0, 9), 'two'].join('\n')}\n`,
      /line 10: class 'two' is listed twice \(also line 3\)/,
    ],
    ['blank', `${[...names.slice(0, 4), '', ...names.slice(5)].join('\n')}\n`, /line 5 is empty/],
    [
      'ctrl',
      `${[...names.slice(0, 9), 'ni\u0007ne'].join('\n')}\n`,
      /line 10: class name "ni\\u0007ne" contains a control character/,
    ],
    ['none', '\n\n', /no class names/],
    [
      'many',
      `${Array.from({ length: 65 }, (_, i) => `c${i}`).join('\n')}\n`,
      /65 class names, but the lfcW1A1 overlay has at most 64 outputs/,
    ],
  ];
  test.each(cases)('classes.txt %s: a handled refusal, nothing published', async (label, text, message) => {
    const dataset = `mnist-classes-${label}`;
    for (const f of [IDX_FILES.testImages, IDX_FILES.testLabels])
      await put(DATASETS, `datasets/${dataset}/${f}`, readFileSync(path.join(SHARED_DATA, 'mnist', f)));
    await put(DATASETS, `datasets/${dataset}/classes.txt`, text);
    const runId = `20261126-061500-${label}-0001`;
    await uploadRun(runId, NPZ);
    sent = [];
    const answer = await answerRefusals(handlerFor())({ runId, dataset });
    expect(answer).toEqual({ outcome: 'refused', runId, refusal: expect.stringMatching(message) });
    expect((answer as { refusal: string }).refusal).toMatch(
      new RegExp(
        `^invalid input: s3://datasets/datasets/${dataset}/classes\\.txt: .*; nothing was published$`,
      ),
    );
    expect(sent.filter((c) => /Put|Delete|Copy/.test(c))).toEqual([]);
    expect(await snapshot(publishedParamsPrefix(dataset))).toEqual(new Map());
  });
});

describe('publishing over an existing folder', () => {
  test('rewrites changed files, deletes stale ones, and writes the manifest last', async () => {
    await put(ARTIFACTS, `${PUBLISHED}0-0-weights.bin`, 'corrupted');
    await put(ARTIFACTS, `${PUBLISHED}stale-from-an-old-overlay.bin`, 'old');
    const next = '20261126-071500-mnist-c3d4';
    await uploadRun(next, NPZ, { dataset: 'mnist' });
    sent = [];
    const summary = await handlerFor()({ runId: next });
    expect(summary.publishedChanges).toEqual({ written: 1, deleted: 1, manifestWritten: true });
    // Publish order: old manifest removed, changed file, stale file removed, new manifest (the last write).
    const writes = sent.filter((c) => /Put|Delete/.test(c));
    expect(writes.slice(-4)).toEqual([
      'DeleteObjectsCommand',
      'PutObjectCommand',
      'DeleteObjectsCommand',
      'PutObjectCommand',
    ]);
    const folder = await snapshot(PUBLISHED);
    expect(folder.has(`${PUBLISHED}stale-from-an-old-overlay.bin`)).toBe(false);
    expect(
      folder.get(`${PUBLISHED}0-0-weights.bin`)?.equals(readFileSync(path.join(SHIPPED, '0-0-weights.bin'))),
    ).toBe(true);
    const manifest = parseManifest(String(folder.get(`${PUBLISHED}manifest.json`)), PUBLISHED);
    expect(manifest.runId).toBe(next);
  });

  test('publish=false converts and verifies the run but leaves params/ alone', async () => {
    const before = await snapshot(PUBLISHED);
    const dry = 'dry-run-0005';
    await uploadRun(dry, NPZ);
    const summary = await handlerFor()({
      runId: dry,
      dataset: 'mnist',
      network: 'lfcW1A1',
      publish: 'false',
    });
    expect(summary).toMatchObject({
      published: false,
      publishedParams: null,
      note: 'not published (publish=false)',
    });
    expect(await snapshot(PUBLISHED)).toEqual(before);
    expect((await snapshot(runParamsPrefix(dry, 'mnist'))).size).toBe(290);
  });
});

describe('publish=auto (what the model-upload trigger sends)', () => {
  test('a sweep run (run.json sweepId) is converted and verified, never published', async () => {
    const before = await snapshot(PUBLISHED);
    const run = '20261201-130000-sweep-a1b2-003';
    await uploadRun(run, NPZ, { runId: run, dataset: 'mnist', sweepId: '20261201-130000-sweep-a1b2' });
    const summary = await handlerFor()({ runId: `runs/${run}/model.npz`, publish: 'auto' });
    expect(summary).toMatchObject({
      dataset: 'mnist',
      published: false,
      publishedParams: null,
      note: 'not published (sweep run of 20261201-130000-sweep-a1b2)',
    });
    expect(await snapshot(PUBLISHED)).toEqual(before);
    expect((await snapshot(runParamsPrefix(run, 'mnist'))).size).toBe(290);
    const report = JSON.parse(String((await snapshot(runKeys(run).verify)).get(runKeys(run).verify)));
    expect(report.publish).toEqual({
      requested: false,
      decision:
        'not requested (sweep run of 20261201-130000-sweep-a1b2: `bnn-pynq sweep best 20261201-130000-sweep-a1b2 --publish` publishes the best run)',
    });
  });

  test('a single train run (no sweepId) publishes as before', async () => {
    const run = '20261201-140000-mnist-c3d4';
    await uploadRun(run, NPZ, { runId: run, dataset: 'mnist' });
    const summary = await handlerFor()({ runId: `runs/${run}/model.npz`, publish: 'auto' });
    expect(summary).toMatchObject({ published: true, publishedParams: `s3://${ARTIFACTS}/${PUBLISHED}` });
  });
});

describe('a Fashion-MNIST run with defaults only', () => {
  test('no dataset anywhere: fashion-mnist, preset class names, its own published folder', async () => {
    const sample = path.join(SHARED_DATA, 'fashion-mnist-sample');
    await put(
      DATASETS,
      `datasets/fashion-mnist/${IDX_FILES.testImages}`,
      readFileSync(path.join(sample, IDX_FILES.testImages)),
    );
    await put(
      DATASETS,
      `datasets/fashion-mnist/${IDX_FILES.testLabels}`,
      readFileSync(path.join(sample, IDX_FILES.testLabels)),
    );
    const mnistBefore = await snapshot(PUBLISHED);
    const run = '20261126-080000-fashion-mnist-e5f6';
    await uploadRun(run, readFileSync(path.join(SHARED_DATA, 'npz', 'fashion-mnist-lfc-w1a1.npz'))); // no run.json
    const summary = await handlerFor()({ runId: run });
    expect(summary).toMatchObject({
      dataset: 'fashion-mnist',
      published: true,
      publishedParams: 's3://artifacts/params/fashion-mnist/lfcW1A1/',
    });
    const published = await snapshot(publishedParamsPrefix('fashion-mnist'));
    expect(published.size).toBe(290);
    expect(published.get('params/fashion-mnist/lfcW1A1/classes.txt')?.toString('utf8')).toBe(
      'T-shirt/top\nTrouser\nPullover\nDress\nCoat\nSandal\nShirt\nSneaker\nBag\nAnkle boot',
    );
    const report = JSON.parse((await get(ARTIFACTS, runKeys(run).verify)).toString('utf8'));
    expect(report).toMatchObject({
      dataset: 'fashion-mnist',
      classesSource: 'preset',
      testSet: { count: 50 },
    });
    expect(report.board.accuracy).toBe(summary.accuracy);
    expect(await snapshot(PUBLISHED)).toEqual(mnistBefore); // the mnist folder is another dataset's: untouched
  });
});
