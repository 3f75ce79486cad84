import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listObjects } from '../../lib/conversion/s3-objects';
import { checkAgainstManifest, parseManifest } from '../../lib/manifest';
import { FolderChangedError, writeParamFolder } from '../../lib/param-folder/s3';
import { type LocalS3, newLocalS3Client, startLocalS3 } from '../support/s3-server';

// writeParamFolder on small synthetic folders (the full 289-file case is in job.test.ts).

const BUCKET = 'artifacts';
let s3: LocalS3;
let client: S3Client;
let sent: string[] = [];
/** Runs once, right before the writer's next manifest.json upload (to simulate a second writer). */
let beforeManifest: (() => Promise<void>) | undefined;

beforeAll(async () => {
  s3 = await startLocalS3([BUCKET]);
  client = newLocalS3Client(s3.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName as string);
      const input = args.input as { Key?: string };
      if (
        context.commandName === 'PutObjectCommand' &&
        input.Key?.endsWith('/manifest.json') &&
        beforeManifest
      ) {
        const hook = beforeManifest;
        beforeManifest = undefined;
        await hook();
      }
      return next(args);
    },
    { step: 'initialize', name: 'record' },
  );
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

const meta = { runId: 'run-1', dataset: 'd', network: 'lfcW1A1', accuracy: 91.5 };
const folder = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, new TextEncoder().encode(v)]));

async function read(prefix: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const o of await listObjects(s3.client, BUCKET, prefix)) {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.key }));
    out.set(o.key.slice(prefix.length), (await got.Body?.transformToByteArray()) ?? new Uint8Array());
  }
  return out;
}

test('writes the files and a manifest that matches them; a second identical write sends nothing', async () => {
  const files = folder({ 'a.bin': 'AAAA', 'classes.txt': 'x\ny' });
  const first = await writeParamFolder(client, BUCKET, 'p1/', files, meta);
  expect(first).toMatchObject({ written: ['a.bin', 'classes.txt'], deleted: [], manifestWritten: true });
  const stored = await read('p1/');
  const manifest = parseManifest(new TextDecoder().decode(stored.get('manifest.json')), 'p1');
  stored.delete('manifest.json');
  expect(checkAgainstManifest(manifest, stored)).toEqual([]);
  expect(manifest).toMatchObject({ runId: 'run-1', dataset: 'd', accuracy: 91.5 });

  sent = [];
  const again = await writeParamFolder(client, BUCKET, 'p1/', files, meta, () => new Date('2030-01-01'));
  expect(again).toMatchObject({ written: [], deleted: [], manifestWritten: false });
  expect(again.manifest.createdAt).toBe(manifest.createdAt); // the stored manifest, not a new one
  expect(sent.filter((c) => /Put|Delete/.test(c))).toEqual([]);
});

test('same files from another run: only the manifest is rewritten', async () => {
  const files = folder({ 'a.bin': 'AAAA', 'classes.txt': 'x\ny' });
  sent = [];
  const result = await writeParamFolder(client, BUCKET, 'p1/', files, { ...meta, runId: 'run-2' });
  expect(result).toMatchObject({ written: [], deleted: [], manifestWritten: true });
  expect(sent.filter((c) => /Put|Delete/.test(c))).toEqual(['DeleteObjectsCommand', 'PutObjectCommand']);
  const manifest = parseManifest(new TextDecoder().decode((await read('p1/')).get('manifest.json')), 'p1');
  expect(manifest.runId).toBe('run-2');
});

test('an unreadable old manifest is replaced', async () => {
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p2/manifest.json', Body: '{not json' }));
  const result = await writeParamFolder(client, BUCKET, 'p2/', folder({ 'a.bin': 'A' }), meta);
  expect(result.manifestWritten).toBe(true);
  expect(
    parseManifest(new TextDecoder().decode((await read('p2/')).get('manifest.json')), 'p2').files,
  ).toHaveLength(1);
});

test('a second writer changing a file mid-publish is reported, not hidden', async () => {
  beforeManifest = async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p3/a.bin', Body: 'from another run' }));
  };
  const attempt = writeParamFolder(client, BUCKET, 'p3/', folder({ 'a.bin': 'mine', 'b.bin': 'B' }), meta);
  await expect(attempt).rejects.toThrow(FolderChangedError);
  await expect(
    writeParamFolder(client, BUCKET, 'p3/', folder({ 'a.bin': 'mine', 'b.bin': 'B' }), meta),
  ).resolves.toMatchObject({ written: ['a.bin'], manifestWritten: true }); // a re-run repairs it
});

test('the error message says what happened and what to do', async () => {
  beforeManifest = async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p4/extra.bin', Body: 'x' }));
  };
  await expect(writeParamFolder(client, BUCKET, 'p4/', folder({ 'a.bin': 'A' }), meta)).rejects.toThrow(
    's3://artifacts/p4/ changed while it was being written (extra.bin appeared): another conversion was probably publishing the same folder.',
  );
});
