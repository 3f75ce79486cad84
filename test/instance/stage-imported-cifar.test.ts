import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { testFilesFromBucket } from '../../lib/board/sources';
import type { CloudClients } from '../../lib/cloud/clients';
import { mulberry32 } from '../../lib/dataset/random';
import { must } from '../../lib/defined';
import { runCli } from '../support/cli';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { BUCKETS, FakeInstance, INSTANCE_SCRIPTS } from './support/instance';

// A colour dataset from `bnn-pynq dataset import --format cifar --upload`, taken the rest of the way: the
// instance's stage-dataset.sh (real bash, the real aws CLI on the loopback S3 server) verifies and stages it
// for bnn_train, `export-test --bucket` and `board validate`'s default test files read it back.

jest.setTimeout(180_000);
const STAGE = path.join(INSTANCE_SCRIPTS, 'stage-dataset.sh');
const NAME = 'my-photos';

let s3: LocalS3;
let i: FakeInstance;
let local: string;
beforeAll(async () => {
  s3 = await startLocalS3(Object.values(BUCKETS));
  i = new FakeInstance(s3);
  const src = path.join(i.dir, 'photos');
  const random = mulberry32(9);
  for (const cls of ['cat', 'dog', 'fox']) {
    fs.mkdirSync(path.join(src, cls), { recursive: true });
    for (let k = 0; k < 10; k++) {
      const w = 32 + Math.floor(random() * 40);
      const h = 32 + Math.floor(random() * 40);
      const rgb = Buffer.from(Array.from({ length: w * h * 3 }, () => Math.floor(random() * 256)));
      fs.writeFileSync(
        path.join(src, cls, `${k}.jpg`),
        await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
          .jpeg()
          .toBuffer(),
      );
    }
  }
  local = path.join(i.dir, 'datasets', NAME);
  const r = await runCli(
    [
      'dataset',
      'import',
      src,
      '--name',
      NAME,
      '--format',
      'cifar',
      '--out',
      local,
      '--upload',
      '--bucket',
      BUCKETS.datasets,
    ],
    { env: s3.env },
  );
  expect(r.stderr).not.toMatch(/^error/m);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`uploaded to s3://${BUCKETS.datasets}/datasets/${NAME}/ (dataset.json last)`);
  expect(r.stdout).toContain(
    `next: npx bnn-pynq train --dataset ${NAME} --network cnvW1A1 (or cnvW1A2, cnvW2A2)`,
  );
});
afterAll(async () => {
  i?.cleanup();
  await s3?.stop();
});

const object = async (file: string) => {
  const got = await s3.client.send(
    new GetObjectCommand({ Bucket: BUCKETS.datasets, Key: `datasets/${NAME}/${file}` }),
  );
  return Buffer.from(await (got.Body as NonNullable<typeof got.Body>).transformToByteArray());
};

test('the upload holds exactly the local files, dataset.json written last', async () => {
  const listed = await s3.client.send(
    new ListObjectsV2Command({ Bucket: BUCKETS.datasets, Prefix: `datasets/${NAME}/` }),
  );
  const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
  const files = fs.readdirSync(local).sort();
  expect(files).toEqual(['classes.txt', 'data_batch_1.bin', 'dataset.json', 'preview.png', 'test_batch.bin']);
  expect(keys).toEqual(files.map((f) => `datasets/${NAME}/${f}`));
  for (const f of files) expect(await object(f)).toEqual(fs.readFileSync(path.join(local, f)));
  const times = new Map(
    (listed.Contents ?? []).map((o) => [o.Key as string, (o.LastModified as Date).getTime()]),
  );
  const last = must(times.get(`datasets/${NAME}/dataset.json`), `datasets/${NAME}/dataset.json`);
  for (const t of times.values()) expect(t).toBeLessThanOrEqual(last);
});

test('stage-dataset.sh verifies it by content and stages the records for bnn_train (format cifar-bin)', () => {
  const dest = path.join(i.root, 'datasets', NAME);
  const r = i.run(STAGE, [NAME, dest]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`dataset ${NAME}: verified s3://${BUCKETS.datasets}/datasets/${NAME}/`);
  for (const f of ['data_batch_1.bin', 'test_batch.bin', 'classes.txt', 'dataset.json'])
    expect(fs.readFileSync(path.join(dest, f))).toEqual(fs.readFileSync(path.join(local, f)));
});

test('export-test --bucket and board validate read its test_batch.bin back from the bucket', async () => {
  const out = path.join(i.dir, 'exported');
  const r = await runCli(['dataset', 'export-test', NAME, '--bucket', BUCKETS.datasets, '--out', out], {
    env: s3.env,
  });
  expect(r.stderr).not.toMatch(/^error/m);
  expect(r.status).toBe(0);
  expect(fs.readFileSync(path.join(out, 'test_batch.bin'))).toEqual(
    fs.readFileSync(path.join(local, 'test_batch.bin')),
  );
  const files = await testFilesFromBucket(
    { s3: s3.client } as unknown as CloudClients,
    BUCKETS.datasets,
    NAME,
  );
  expect(files.kind).toBe('cifar');
  if (files.kind === 'cifar') {
    expect(Buffer.from(files.records)).toEqual(fs.readFileSync(path.join(local, 'test_batch.bin')));
    expect(files.recordsName).toBe(`s3://${BUCKETS.datasets}/datasets/${NAME}/test_batch.bin`);
  }
});

test('a record file changed in the bucket is refused by the instance, and the staged copy stays', async () => {
  const dest = path.join(i.root, 'datasets', NAME);
  const before = fs.readFileSync(path.join(dest, 'data_batch_1.bin'));
  const changed = Buffer.from(before);
  changed[4000] = must(changed[4000], 'changed[4000]') ^ 0x40;
  await s3.client.send(
    new PutObjectCommand({
      Bucket: BUCKETS.datasets,
      Key: `datasets/${NAME}/data_batch_1.bin`,
      Body: changed,
    }),
  );
  const r = i.run(STAGE, [NAME, dest]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(
    `dataset '${NAME}' refused: s3://${BUCKETS.datasets}/datasets/${NAME}/data_batch_1.bin is corrupt or partial: its SHA-256 is`,
  );
  expect(fs.readFileSync(path.join(dest, 'data_batch_1.bin'))).toEqual(before);
});
