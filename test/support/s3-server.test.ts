import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { type LocalS3, startLocalS3 } from './s3-server';

// The loopback S3 server every S3 test relies on: the SDK and the real aws CLI both talk to it.
let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3(['bucket-a']);
});
afterAll(() => s3.stop());

test('SDK v3 put and get round-trip bytes', async () => {
  const body = Buffer.from([0, 1, 2, 255]);
  await s3.client.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: 'x/y.bin', Body: body }));
  const got = await s3.client.send(new GetObjectCommand({ Bucket: 'bucket-a', Key: 'x/y.bin' }));
  expect(Buffer.from((await got.Body?.transformToByteArray()) ?? new Uint8Array())).toEqual(body);
});

test('the real aws CLI syncs against it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 's3cli-'));
  writeFileSync(path.join(dir, 'a.txt'), 'hello');
  const env = { ...process.env, ...s3.env };
  execFileSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'sync', dir, 's3://bucket-a/sync/'], { env });
  const out = mkdtempSync(path.join(tmpdir(), 's3cli-out-'));
  execFileSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'sync', 's3://bucket-a/sync/', out], { env });
  expect(readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('hello');
});
