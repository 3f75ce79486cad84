import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { paramSetFromRun } from '../../lib/board/sources';
import type { CloudClients } from '../../lib/cloud/clients';
import { listObjects } from '../../lib/conversion/s3-objects';
import { must } from '../../lib/defined';
import { checkAgainstManifest, parseManifest } from '../../lib/manifest';
import { boardParamFolders, localParamFolders, s3ParamFolders } from '../../lib/param-folder';
import { expectedFiles } from '../../lib/param-folder/layout';
import { readParamFiles } from '../../lib/param-folder/local';
import { listPublished, listS3ParamFolders } from '../../lib/param-folder/s3';
import { MNIST_PARAMS } from '../board/support/helpers';
import { type LocalS3, startLocalS3 } from '../support/s3-server';

// The same content through every ParamFolderStore back end: the shipped lfcW1A1 mnist folder (288 .bin + classes.txt).

let s3: LocalS3;
let tmp: string;
beforeAll(async () => {
  s3 = await startLocalS3(['artifacts']);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'i15c-stores-'));
});
afterAll(async () => {
  await s3?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('local and S3 stores hold the same bytes for the same content; S3 adds a manifest that matches them', async () => {
  const files = await readParamFiles(MNIST_PARAMS);
  expect(files.size).toBe(expectedFiles('lfcW1A1').size);
  const content = { dataset: 'mnist', network: 'lfcW1A1' as const, files, runId: 'run-1', accuracy: 98.4 };

  const local = localParamFolders(tmp);
  expect(local.where('mnist', 'lfcW1A1')).toBe(path.join(tmp, 'mnist', 'lfcW1A1'));
  const folder = await local.write(content);
  expect(folder).toBe(path.join(tmp, 'mnist', 'lfcW1A1'));
  expect(readdirSync(folder).sort()).toEqual([...files.keys()].sort());
  for (const [name, bytes] of files) expect(readFileSync(path.join(folder, name)).equals(bytes)).toBe(true);
  // A second write without overwrite is refused; the folder is left as it was.
  await expect(local.write(content)).rejects.toThrow(/--out/);

  const prefixOf = (dataset: string, network: string) => `runs/run-1/params/${dataset}/${network}/`;
  const remote = s3ParamFolders(s3.client, 'artifacts', prefixOf, () => new Date('2030-01-01T00:00:00Z'));
  expect(remote.where('mnist', 'lfcW1A1')).toBe('s3://artifacts/runs/run-1/params/mnist/lfcW1A1/');
  const result = await remote.write(content);
  expect(result.manifestWritten).toBe(true);
  const stored = new Map<string, Uint8Array>();
  for (const o of await listObjects(s3.client, 'artifacts', prefixOf('mnist', 'lfcW1A1'))) {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: 'artifacts', Key: o.key }));
    stored.set(path.basename(o.key), (await got.Body?.transformToByteArray()) ?? new Uint8Array());
  }
  const manifest = parseManifest(new TextDecoder().decode(stored.get('manifest.json')), 'manifest.json');
  stored.delete('manifest.json');
  expect([...stored.keys()].sort()).toEqual([...files.keys()].sort());
  for (const [name, bytes] of files)
    expect(Buffer.from(must(stored.get(name), name)).equals(bytes)).toBe(true);
  expect(checkAgainstManifest(manifest, stored)).toEqual([]);
  expect(manifest).toMatchObject({
    runId: 'run-1',
    dataset: 'mnist',
    network: 'lfcW1A1',
    accuracy: 98.4,
    createdAt: '2030-01-01T00:00:00.000Z',
  });
  // The same content again changes nothing.
  expect(await remote.write(content)).toMatchObject({ written: [], deleted: [], manifestWritten: false });
});

test('the board store refuses an incomplete set before it connects to anything', async () => {
  const files = await readParamFiles(MNIST_PARAMS);
  files.delete('0-0-weights.bin');
  // An unresolvable host: reaching ssh would fail differently (and slowly).
  const board = boardParamFolders({ host: 'no-such-board.invalid' });
  expect(board.where('mnist', 'lfcW1A1')).toBe('no-such-board.invalid:<bnn>/params/mnist/lfcW1A1');
  await expect(
    board.write({ dataset: 'mnist', network: 'lfcW1A1', files, source: 'params/mnist/lfcW1A1' }),
  ).rejects.toThrow(
    'params/mnist/lfcW1A1: incomplete lfcW1A1 param folder: 1 of 289 files missing (0-0-weights.bin); convert or fetch the set again',
  );
});

test('what one back end writes, every back end reads back as the same content: local → S3 → local, byte for byte', async () => {
  const files = await readParamFiles(MNIST_PARAMS);
  const root = mkdtempSync(path.join(tmp, 'roundtrip-'));
  const local = localParamFolders(path.join(root, 'a'));
  await local.write({ dataset: 'mnist', network: 'lfcW1A1', files });
  const fromLocal = await local.read('mnist', 'lfcW1A1');
  expect(fromLocal).toMatchObject({ dataset: 'mnist', network: 'lfcW1A1' });
  expect(fromLocal.source).toBe(path.join(root, 'a', 'mnist', 'lfcW1A1'));
  expect(fromLocal.manifest).toBeUndefined();
  expect([...fromLocal.files.keys()].sort()).toEqual([...files.keys()].sort());
  for (const [name, bytes] of files)
    expect(Buffer.from(fromLocal.files.get(name) ?? []).equals(bytes)).toBe(true);

  const prefixOf = (dataset: string, network: string) => `roundtrip/${dataset}/${network}/`;
  const remote = s3ParamFolders(s3.client, 'artifacts', prefixOf, () => new Date('2030-01-01T00:00:00Z'));
  await remote.write({ ...fromLocal, dataset: 'mnist', runId: 'run-2', accuracy: 97.5 });
  const fromS3 = await remote.read('mnist', 'lfcW1A1');
  expect(fromS3).toMatchObject({ dataset: 'mnist', network: 'lfcW1A1', runId: 'run-2', accuracy: 97.5 });
  expect(fromS3.source).toBe('s3://artifacts/roundtrip/mnist/lfcW1A1/');
  expect(fromS3.downloaded).toHaveLength(files.size);
  expect(fromS3.reused).toEqual([]);
  for (const [name, bytes] of files)
    expect(Buffer.from(fromS3.files.get(name) ?? []).equals(bytes)).toBe(true);
  // Bytes at hand that match the manifest are used instead of a download; one that does not is downloaded.
  const damaged = new Map(files);
  damaged.set('0-0-weights.bin', new Uint8Array(files.get('0-0-weights.bin')?.length ?? 0));
  const again = await remote.read('mnist', 'lfcW1A1', { reuse: async (p) => damaged.get(p) });
  expect(again.downloaded).toEqual(['0-0-weights.bin']);
  expect(again.reused).toHaveLength(files.size - 1);
  expect(
    Buffer.from(again.files.get('0-0-weights.bin') ?? []).equals(
      files.get('0-0-weights.bin') ?? Buffer.alloc(0),
    ),
  ).toBe(true);

  // Written locally with the manifest it was read with, the folder reads back with that manifest, checked.
  const copy = localParamFolders(path.join(root, 'b'));
  const folder = await copy.write(fromS3);
  expect(readFileSync(path.join(folder, 'manifest.json'), 'utf8')).toBe(fromS3.manifest.text);
  const fromCopy = await copy.read('mnist', 'lfcW1A1');
  expect(fromCopy.manifest?.parsed).toEqual(fromS3.manifest.parsed);
  expect(fromCopy).toMatchObject({ runId: 'run-2', accuracy: 97.5 });
});

test('reading refuses a folder whose manifest names another folder, or whose files do not match it', async () => {
  const files = await readParamFiles(MNIST_PARAMS);
  const root = mkdtempSync(path.join(tmp, 'refusals-'));
  const prefixOf = (dataset: string, network: string) => `refusals/${dataset}/${network}/`;
  const remote = s3ParamFolders(s3.client, 'artifacts', prefixOf);
  await remote.write({ dataset: 'mnist', network: 'lfcW1A1', files });
  const read = await remote.read('mnist', 'lfcW1A1');
  // The same folder under another dataset's name (a copy made by hand) is refused, naming both.
  const local = localParamFolders(root);
  await local.write({ ...read, dataset: 'kmnist' });
  await expect(local.read('kmnist', 'lfcW1A1')).rejects.toThrow(
    `${path.join(root, 'kmnist', 'lfcW1A1', 'manifest.json')}: is for mnist/lfcW1A1, not kmnist/lfcW1A1: fetch or sync the set again`,
  );
  await expect(remote.read('kmnist', 'lfcW1A1')).rejects.toThrow(
    'no param folder for s3://artifacts/refusals/kmnist/lfcW1A1/ (s3://artifacts/refusals/kmnist/lfcW1A1/manifest.json does not exist)',
  );
  // A file changed after the manifest was written.
  const folder = await local.write({ ...read, dataset: 'mnist' });
  writeFileSync(path.join(folder, '3-0-thres.bin'), Buffer.alloc(32));
  await expect(local.read('mnist', 'lfcW1A1')).rejects.toThrow(
    /lfcW1A1: does not match its manifest\.json \(1 problem\(s\), first: 3-0-thres\.bin/,
  );
});

test('listing: a folder counts once its manifest is there; published manifests are listed, a broken one left out', async () => {
  const files = await readParamFiles(MNIST_PARAMS);
  const bucket = 'artifacts';
  const published = s3ParamFolders(s3.client, bucket, (d, n) => `params/${d}/${n}/`);
  await published.write({ dataset: 'mnist', network: 'lfcW1A1', files, runId: 'run-3', accuracy: 98.4 });
  await published.write({
    dataset: 'mnist',
    network: 'lfcW1A2',
    files: new Map([['classes.txt', files.get('classes.txt') ?? new Uint8Array()]]),
  });
  // A publish that never finished (files, no manifest) and a broken manifest.
  const put = (Key: string, Body: string) =>
    s3.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  await put('params/kmnist/lfcW1A1/0-0-weights.bin', 'x');
  await put('params/cifar10/cnvW1A1/manifest.json', '{not json');
  expect(await listS3ParamFolders(s3.client, bucket, 'params/')).toEqual([
    { dataset: 'cifar10', network: 'cnvW1A1' },
    { dataset: 'mnist', network: 'lfcW1A1' },
    { dataset: 'mnist', network: 'lfcW1A2' },
  ]);
  const listed = await listPublished(s3.client, bucket);
  expect(listed.map((p) => [p.dataset, p.network, p.manifest.runId, p.manifest.files.length])).toEqual([
    ['mnist', 'lfcW1A1', 'run-3', 289],
    ['mnist', 'lfcW1A2', null, 1],
  ]);
});

test("push --run: a run's folder that matches its manifest but is not a whole set is refused, naming the file in S3", async () => {
  const files = new Map(await readParamFiles(MNIST_PARAMS));
  const thres = files.get('0-0-thres.bin') ?? new Uint8Array();
  files.set('0-0-thres.bin', thres.subarray(0, 100));
  const runId = '20261201-120000-mnist-d00d';
  const prefix = `runs/${runId}/params/mnist/lfcW1A1/`;
  await s3ParamFolders(s3.client, 'artifacts', () => prefix).write({
    dataset: 'mnist',
    network: 'lfcW1A1',
    files,
  });
  const clients = { s3: s3.client } as unknown as CloudClients;
  await expect(paramSetFromRun(clients, 'artifacts', runId, 'mnist', 'lfcW1A1')).rejects.toThrow(
    `s3://artifacts/${prefix}0-0-thres.bin: 100 bytes, an lfcW1A1 threshold file of layer 0 has ${thres.length}: the file is truncated or from another network; convert or fetch the set again`,
  );
});
