import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

export interface LocalS3 {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  /** An SDK v3 client pointed at the server (path-style, dummy credentials). */
  client: S3Client;
  /** Environment for child processes: dummy credentials, region, and the endpoint in BNN_PYNQ_S3_ENDPOINT. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const TEST_REGION = 'us-east-1';

/**
 * Starts s3rver (a real S3-compatible HTTP server) on 127.0.0.1 with a random port, in its own
 * process, storing objects in a temporary folder, and creates the given buckets. Being a separate
 * process, it keeps answering while a test blocks on a child process (execFileSync of `aws ...`).
 */
export async function startLocalS3(buckets: string[]): Promise<LocalS3> {
  const directory = mkdtempSync(path.join(tmpdir(), 's3rver-'));
  const child = spawn(process.execPath, [path.join(__dirname, 's3rver-process.js'), directory, ...buckets], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const end = out.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(out.slice(0, end)).port);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`s3rver exited early with code ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = newLocalS3Client(endpoint);
  return {
    endpoint,
    client,
    env: {
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: TEST_REGION,
      AWS_DEFAULT_REGION: TEST_REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      BNN_PYNQ_S3_ENDPOINT: endpoint,
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * An S3 client for the local server. s3rver predates the SDK's default request checksums
 * (aws-chunked uploads with trailing CRC32), so checksums are only sent when an operation requires them.
 */
export function newLocalS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
