import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { formatCheck } from '../../lib/board/board';
import { paramSetFromRun, testFilesFromBucket } from '../../lib/board/sources';
import { remoteCommand, resolveLogin, runHelper, shellQuote, sshFailure } from '../../lib/board/ssh';
import { summarize } from '../../lib/board/validate';
import type { CloudClients } from '../../lib/cloud/clients';
import { must } from '../../lib/defined';
import { datasetPrefix, IDX_FILES, MANIFEST_FILE, runParamsPrefix } from '../../lib/layout';
import { buildManifest } from '../../lib/manifest';
import { expectedFiles, LFC_SET_FILE_COUNT } from '../../lib/param-folder/layout';
import { loadLocalParamSet } from '../../lib/param-folder/local';
import { startLocalS3 } from '../support/s3-server';
import { MNIST_IMAGES, MNIST_LABELS, MNIST_PARAMS, readFolder } from './support/helpers';

describe('param set rules (params-format.md §3)', () => {
  test('289 files with the sizes of the lfcW1A1 layout', () => {
    const files = expectedFiles();
    expect(files.size).toBe(LFC_SET_FILE_COUNT);
    expect(files.get('0-31-weights.bin')).toBe(416 * 8);
    expect(files.get('0-31-thres.bin')).toBe(32 * 8);
    expect(files.get('1-63-weights.bin')).toBe(512 * 8);
    expect(files.get('1-63-thres.bin')).toBe(16 * 8);
    expect(files.get('3-15-thres.bin')).toBe(4 * 8);
    expect(files.has('3-16-weights.bin')).toBe(false);
    // The shipped folder matches them exactly.
    const shipped = readFolder(MNIST_PARAMS);
    for (const [name, size] of files) if (size !== null) expect(shipped.get(name)?.length).toBe(size);
  });

  test('the dataset is read from a <dataset>/lfcW1A1 layout', () => {
    const set = loadLocalParamSet(MNIST_PARAMS);
    expect(set.dataset).toBe('mnist');
    expect(set.files).toHaveLength(289);
    expect(set.files.map((f) => f.path)).toEqual([...set.files.map((f) => f.path)].sort());
  });
});

test('the board-side helper parses as Python 3.6 (PYNQ 2.3-2.5 images)', () => {
  const helper = path.join(__dirname, '..', '..', 'lib', 'board', 'remote', 'board_helper.py');
  const out = execFileSync('/usr/bin/python3', [
    '-c',
    'import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 6)); print("ok")',
    helper,
  ]);
  expect(out.toString()).toBe('ok\n');
});

test('login user: --user, then user@host, then User from the ssh config, else xilinx', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bnn-pynq-sshcfg-'));
  try {
    const configFile = path.join(dir, 'config');
    writeFileSync(
      configFile,
      'Host myboard\n  HostName 192.0.2.7\n  User alice\nHost plain\n  HostName 192.0.2.8\n',
    );
    expect(await resolveLogin({ host: 'myboard', configFile })).toEqual({ user: 'alice', host: 'myboard' });
    expect(await resolveLogin({ host: 'plain', configFile })).toEqual({ user: 'xilinx', host: 'plain' });
    expect(await resolveLogin({ host: 'bob@myboard', configFile })).toEqual({ user: 'bob', host: 'myboard' });
    expect(await resolveLogin({ host: 'bob@myboard', user: 'carol', configFile })).toEqual({
      user: 'carol',
      host: 'myboard',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the remote command line', () => {
  test('shellQuote survives the remote shell', () => {
    for (const word of ["it's", 'a b', '$HOME', '`x`', '"q"', "'", '']) {
      expect(execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(word)}`]).toString()).toBe(word);
    }
  });

  test('sudo keeps BOARD/PYTHONPATH when set and adds nothing when unset', () => {
    const cmd = remoteCommand({ host: 'h', sudo: true, python: '/usr/bin/python3' }, 'check').replace(
      'exec sudo -n env',
      'exec env',
    );
    const run = (env: Record<string, string>) =>
      execFileSync(
        '/bin/sh',
        [
          '-c',
          cmd.replace(
            /'\/usr\/bin\/python3' -c .*$/,
            `/bin/sh -c 'echo "\${BOARD-unset}|\${PYTHONPATH-unset}"'`,
          ),
        ],
        {
          env: { PATH: process.env.PATH ?? '', ...env },
        },
      ).toString();
    expect(run({ BOARD: 'Pynq-Z2', PYTHONPATH: '/opt/x y' })).toBe('Pynq-Z2|/opt/x y\n');
    expect(run({})).toBe('unset|unset\n');
  });
});

describe('ssh failures become one line with the fix', () => {
  const t = { host: 'pynq' };
  const cases: Array<[string, number, RegExp]> = [
    [
      'ssh: Could not resolve hostname pynq: Name or service not known\n',
      255,
      /cannot resolve the name pynq/,
    ],
    ['ssh: connect to host 192.168.2.99 port 22: Connection timed out\n', 255, /is unreachable .*timed out/],
    ['ssh: connect to host 192.168.2.99 port 22: No route to host\n', 255, /is unreachable/],
    [
      'xilinx@pynq: Permission denied (publickey,password).\n',
      255,
      /refused the login .*ssh-copy-id xilinx@pynq/,
    ],
    [
      '@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n',
      255,
      /ssh-keygen -R pynq/,
    ],
    ['sudo: a password is required\n', 1, /`sudo -n` was refused .*NOPASSWD/],
    ['sh: 1: exec: python3: not found\n', 127, /has no python3 on the PATH .*--python/],
    ['client_loop: send disconnect: Broken pipe\n', 255, /connection to board xilinx@pynq dropped/],
  ];
  test.each(cases)('%s', (stderr, code, pattern) => {
    const e = sshFailure(code, stderr, 'xilinx@pynq', t);
    expect(e.message).toMatch(pattern);
    expect(e.message).not.toContain('\n');
  });
});

describe('the real OpenSSH client: option errors are not dropped connections', () => {
  // Each of these makes the real `ssh` exit 255 before connecting; the message must name the option.
  const bad: Array<[string, Parameters<typeof runHelper>[0], RegExp]> = [
    ['--ssh-option Foo=bar', { host: '127.0.0.1', options: ['Foo=bar'] }, /Bad configuration option: foo/],
    ['--port abc', { host: '127.0.0.1', port: 'abc' as unknown as number }, /Bad port 'abc'/],
    [
      '--ssh-config missing',
      { host: '127.0.0.1', configFile: '/nonexistent/ssh_config' },
      /Can't open user config file/,
    ],
    [
      '--ssh-option ConnectTimeout=abc',
      { host: '127.0.0.1', options: ['ConnectTimeout=abc'] },
      /invalid time value/,
    ],
  ];
  test.each(bad)('%s', async (_label, target, said) => {
    const err = await runHelper({ ...target, user: 'xilinx' }, 'check', {}).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^ssh refused its options before connecting to xilinx@127\.0\.0\.1.* \(/);
    expect(err?.message).toMatch(said);
    expect(err?.message).toContain('check --ssh-option, --port, --identity and --ssh-config');
    expect(err?.message).not.toMatch(/dropped|\n/);
  });

  test('a port nobody listens on is unreachable, not an option error', async () => {
    const err = await runHelper({ host: '127.0.0.1', port: 1, user: 'xilinx' }, 'check', {}).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^board xilinx@127\.0\.0\.1:1 is unreachable \(.*Connection refused\)/);
  });
});

test('summarize: accuracy against labels, disagreements against the simulator', () => {
  const s = summarize([1, 2, 3, 0], [1, 2, 0, 0], [1, 2, 3, 3]);
  expect(s).toMatchObject({ total: 4, correct: 3, accuracy: 75, simulatedAccuracy: 50, disagreements: 1 });
  expect(s.examples).toEqual([{ image: 3, label: 0, board: 0, simulated: 3 }]);
});

describe('sources in S3 (loopback S3 server)', () => {
  test("push --run: a run's params come through their manifest; a damaged file is refused", async () => {
    const s3 = await startLocalS3(['artifacts', 'datasets']);
    try {
      const clients = { s3: s3.client } as unknown as CloudClients;
      const files = readFolder(MNIST_PARAMS);
      const runId = '20261126-061500-mnist-a1b2';
      const prefix = runParamsPrefix(runId, 'mnist');
      for (const [name, bytes] of files)
        await s3.client.send(
          new PutObjectCommand({ Bucket: 'artifacts', Key: `${prefix}${name}`, Body: bytes }),
        );
      const manifest = buildManifest(files, { runId, dataset: 'mnist', network: 'lfcW1A1', accuracy: 98.4 });
      await s3.client.send(
        new PutObjectCommand({
          Bucket: 'artifacts',
          Key: `${prefix}${MANIFEST_FILE}`,
          Body: JSON.stringify(manifest),
        }),
      );
      const set = await paramSetFromRun(clients, 'artifacts', runId, 'mnist');
      expect(set.dataset).toBe('mnist');
      expect(set.files).toHaveLength(289);
      for (const f of set.files)
        expect(Buffer.from(must(set.bytes.get(f.path), f.path)).equals(must(files.get(f.path), f.path))).toBe(
          true,
        );

      await s3.client.send(
        new PutObjectCommand({ Bucket: 'artifacts', Key: `${prefix}0-0-thres.bin`, Body: 'short' }),
      );
      await expect(paramSetFromRun(clients, 'artifacts', runId, 'mnist')).rejects.toThrow(
        /0-0-thres\.bin does not match its manifest/,
      );

      // validate's default test files: the dataset bucket's t10k files.
      const images = readFolder(path.dirname(MNIST_IMAGES));
      for (const [key, name] of [
        [IDX_FILES.testImages, 't10k-images-idx3-ubyte.gz'],
        [IDX_FILES.testLabels, 't10k-labels-idx1-ubyte.gz'],
      ] as const)
        await s3.client.send(
          new PutObjectCommand({
            Bucket: 'datasets',
            Key: `${datasetPrefix('mnist')}${key}`,
            Body: images.get(name),
          }),
        );
      const test = await testFilesFromBucket(clients, 'datasets', 'mnist');
      if (test.kind !== 'idx') throw new Error('an idx dataset was read as CIFAR records');
      expect(Buffer.from(test.images).equals(must(images.get('t10k-images-idx3-ubyte.gz'), 'images'))).toBe(
        true,
      );
      expect(
        Buffer.from(test.labels).equals(
          must(readFolder(path.dirname(MNIST_LABELS)).get('t10k-labels-idx1-ubyte.gz'), 'labels'),
        ),
      ).toBe(true);
    } finally {
      await s3.stop();
    }
  });
});

describe('param sets of every overlay', () => {
  const SHIPPED = path.join(path.dirname(path.dirname(MNIST_PARAMS)));

  test('the network comes from the folder name, or from the file sizes; a folder of several sets is refused', () => {
    const cnv = loadLocalParamSet(path.join(SHIPPED, 'cifar10', 'cnvW2A2'));
    expect([cnv.network, cnv.dataset, cnv.files.length]).toEqual(['cnvW2A2', 'cifar10', 101]);
    // A copy under another name: recognised by its sizes (cnvW1A2's threshold files are twice cnvW1A1's).
    const root = mkdtempSync(path.join(os.tmpdir(), 'bnn-pynq-sets-'));
    try {
      const copy = path.join(root, 'renamed');
      cpSync(path.join(SHIPPED, 'cifar10', 'cnvW1A2'), copy, { recursive: true });
      const renamed = loadLocalParamSet(copy);
      expect([renamed.network, renamed.dataset, renamed.files.length]).toEqual(['cnvW1A2', undefined, 179]);
      // A dataset folder holding one set is that set; holding several, it names them.
      expect(loadLocalParamSet(path.join(SHIPPED, 'mnist'), 'lfcW1A2').network).toBe('lfcW1A2');
      expect(() => loadLocalParamSet(path.join(SHIPPED, 'cifar10'))).toThrow(
        `${path.join(SHIPPED, 'cifar10')}: holds param folders for cnvW1A1, cnvW1A2, cnvW2A2; pass --params ${path.join(SHIPPED, 'cifar10', 'cnvW1A1')} (or --network)`,
      );
      // --network that does not fit the files: the first file of the wrong size is named.
      expect(() => loadLocalParamSet(copy, 'cnvW1A1')).toThrow(
        /renamed\/0-0-thres\.bin: \d+ bytes, a cnvW1A1 threshold file of layer 0 has \d+: the file is truncated or from another network/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("push --run of a CNV run: the network is the run's (run.json), fetched through its manifest", async () => {
    const s3 = await startLocalS3(['artifacts']);
    try {
      const clients = { s3: s3.client } as unknown as CloudClients;
      const files = readFolder(path.join(SHIPPED, 'cifar10', 'cnvW1A1'));
      const runId = '20261201-101500-cifar10-c0de';
      const prefix = runParamsPrefix(runId, 'cifar10', 'cnvW1A1');
      const put = (Key: string, Body: Uint8Array | string) =>
        s3.client.send(new PutObjectCommand({ Bucket: 'artifacts', Key, Body }));
      for (const [name, bytes] of files) await put(`${prefix}${name}`, bytes);
      const manifest = buildManifest(files, {
        runId,
        dataset: 'cifar10',
        network: 'cnvW1A1',
        accuracy: 79.2,
      });
      await put(`${prefix}${MANIFEST_FILE}`, JSON.stringify(manifest));
      await put(`runs/${runId}/run.json`, JSON.stringify({ runId, dataset: 'cifar10', network: 'cnvW1A1' }));
      const set = await paramSetFromRun(clients, 'artifacts', runId);
      expect([set.network, set.dataset, set.files.length]).toEqual(['cnvW1A1', 'cifar10', 179]);
      expect(set.source).toBe(`s3://artifacts/${prefix}`);
      for (const f of set.files)
        expect(Buffer.from(must(set.bytes.get(f.path), f.path)).equals(must(files.get(f.path), f.path))).toBe(
          true,
        );
    } finally {
      await s3.stop();
    }
  });
});

test('check: overlays with their bitstream, one without its hardware-runtime library named; sets per network, incomplete flagged', () => {
  const { lines, problems } = formatCheck(
    {
      where: 'xilinx@pynq',
      python: '3.6.5',
      executable: '/usr/bin/python3',
      user: 'xilinx',
      boardEnv: 'Pynq-Z2',
      pynq: '2.5',
      bnn: '/usr/local/lib/python3.6/dist-packages/bnn',
      params: '/usr/local/lib/python3.6/dist-packages/bnn/params',
      platform: 'pynqZ1-Z2',
      overlays: [
        { network: 'cnvW1A1', platform: 'pynqZ1-Z2', library: true },
        { network: 'lfcW1A1', platform: 'pynqZ1-Z2', library: false },
      ],
      sets: [
        { dataset: 'cifar10', network: 'cnvW1A1', files: 179 },
        { dataset: 'cifar10', network: 'cnvW2A2', files: 100 },
        { dataset: 'mnist', network: 'lfcW1A1', files: 289 },
      ],
      freeBytes: 2e9,
      writable: true,
    },
    false,
  );
  expect(lines).toContain(
    'overlays    cnvW1A1, lfcW1A1 (no libraries/pynqZ1-Z2/python_hw-lfcW1A1-pynqZ1-Z2.so) (bitstreams for pynqZ1-Z2)',
  );
  expect(lines).toContain(
    'param sets  cifar10/cnvW1A1, cifar10/cnvW2A2 (100 files: incomplete), mnist/lfcW1A1',
  );
  expect(problems).toEqual([]);
});
