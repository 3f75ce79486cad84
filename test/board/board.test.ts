import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readIdxImages } from '../../lib/bnn/idx';
import { paramsFromFiles } from '../../lib/bnn/params';
import { classify } from '../../lib/bnn/simulate';
import { pushParamSet } from '../../lib/board/board';
import { must } from '../../lib/defined';
import { loadLocalParamSet } from '../../lib/param-folder/local';
import {
  boardCli,
  copyOfMnistParams,
  leftovers,
  MNIST_IMAGES,
  MNIST_LABELS,
  MNIST_PARAMS,
  onBoard,
  readFolder,
  standInPython,
  validate,
  withPatchedBnnPy,
} from './support/helpers';
import { type StandInBoard, startStandInBoard } from './support/standin-board';

jest.setTimeout(600_000); // ssh sessions on a shared, loaded 2-core machine

let board: StandInBoard;
beforeAll(async () => {
  board = await startStandInBoard();
});
afterAll(async () => {
  await board?.stop();
});

const target = () => ({
  host: board.host,
  user: 'root',
  configFile: board.sshConfig,
  python: '/usr/bin/python3',
});

describe('bnn-pynq board against a stand-in board (real sshd, stand-in bnn package)', () => {
  test('check reports every field of the pre-flight', async () => {
    const r = await boardCli(board, 'check', board.host);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const python = execFileSync('/usr/bin/python3', ['-c', 'import sys; print(sys.version.split()[0])'])
      .toString()
      .trim();
    expect(r.stdout).toContain('reachable   yes (root@board, logged in as root)');
    expect(r.stdout).toContain(`python      ${python} (/usr/bin/python3)`);
    expect(r.stdout).toContain('pynq        2.5');
    expect(r.stdout).toContain('BOARD       Pynq-Z1');
    expect(r.stdout).toContain(`bnn         ${board.bnnDir} (version 0.1)`);
    expect(r.stdout).toContain(`params      ${board.paramsDir}`);
    expect(r.stdout).toContain(
      'overlays    cnvW1A1, cnvW1A2, cnvW2A2, lfcW1A1, lfcW1A2 (bitstreams for pynqZ1-Z2)',
    );
    expect(r.stdout).toContain('param sets  none');
    expect(r.stdout).toMatch(/free space {2}\d+(\.\d)? (GB|MB|kB)/);
    expect(r.stdout).toContain('writable    yes');
  });

  test('push lands the 289 files byte-identical where the package says, and keeps the previous set', async () => {
    // A first, different set (other class names), so "previous" is distinguishable from the new one.
    const first = copyOfMnistParams();
    writeFileSync(
      path.join(first, 'classes.txt'),
      'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine',
    );
    const r1 = await boardCli(board, 'push', board.host, ['--params', first]);
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(r1.stdout).toContain('previous    none (first set for this dataset)');

    const r2 = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
    expect(r2.stderr).toBe('');
    expect(r2.status).toBe(0);
    // Ask the board where its package is, the way the issue says to: never a hard-coded path.
    const bnnDir = (
      await onBoard(board, `/usr/bin/python3 -c 'import bnn, os; print(os.path.dirname(bnn.__file__))'`)
    ).trim();
    const installed = path.join(bnnDir, 'params', 'mnist', 'lfcW1A1');
    expect(r2.stdout).toContain(`installed   root@board:${installed}`);
    const want = readFolder(MNIST_PARAMS);
    const got = readFolder(installed);
    expect(got.size).toBe(289);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, bytes] of want) expect(got.get(name)?.equals(bytes)).toBe(true);

    const previous = path.join(bnnDir, 'params', 'mnist.previous', 'lfcW1A1');
    expect(r2.stdout).toContain(`previous    ${previous} (kept until the next push)`);
    expect(readFileSync(path.join(previous, 'classes.txt'), 'utf8')).toMatch(/^zero\none/);
    expect(readFolder(previous).size).toBe(289);
    expect(leftovers(board)).toEqual([]);

    // A third push drops the older previous (the first set) only now, and keeps the second.
    const r3 = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
    expect(r3.status).toBe(0);
    expect(readFileSync(path.join(previous, 'classes.txt'))).toEqual(want.get('classes.txt'));
    expect(leftovers(board)).toEqual([]);

    const check = await boardCli(board, 'check', board.host);
    expect(check.stdout).toContain('param sets  mnist/lfcW1A1, mnist.previous/lfcW1A1');
  });

  test('a folder left by a push whose board lost power is removed by the next push', async () => {
    const stale = path.join(board.paramsDir, '.mnist.incoming-dead01', 'lfcW1A1');
    mkdirSync(stale, { recursive: true });
    writeFileSync(path.join(stale, '0-0-weights.bin'), 'half');
    const check = await boardCli(board, 'check', board.host);
    expect(check.stdout).toContain('leftovers   .mnist.incoming-dead01');
    const r = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('cleaned     .mnist.incoming-dead01 (left by an interrupted push)');
    expect(leftovers(board)).toEqual([]);
  });

  test('a file whose SHA-256 is wrong on the board changes nothing and leaves nothing behind', async () => {
    const live = path.join(board.paramsDir, 'mnist', 'lfcW1A1');
    const before = readFolder(live);
    const prevBefore = readFolder(path.join(board.paramsDir, 'mnist.previous', 'lfcW1A1'));
    // The manifest is right, but one file's bytes change on the way (as a bad link or SD card would).
    const set = loadLocalParamSet(MNIST_PARAMS);
    const damaged = Buffer.from(must(set.bytes.get('2-7-weights.bin'), '2-7-weights.bin'));
    damaged[100] = must(damaged[100], 'damaged[100]') ^ 0x10;
    set.bytes.set('2-7-weights.bin', damaged);
    await expect(pushParamSet(target(), set, 'mnist')).rejects.toThrow(
      /^board root@board: 1 of 289 files failed the SHA-256 check on the board \(first: 2-7-weights\.bin: SHA-256 on the board differs from the manifest\); nothing changed on the board/,
    );
    expect(leftovers(board)).toEqual([]);
    expect(readFolder(live)).toEqual(before);
    expect(readFolder(path.join(board.paramsDir, 'mnist.previous', 'lfcW1A1'))).toEqual(prevBefore);
  });

  test('--sudo runs the board-side steps through sudo -n', async () => {
    const r = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS, '--sudo']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('installed   root@board:');
  });

  test("validate returns the stand-in's predictions, 98.40 % on MNIST, and 0 disagreements with verify", async () => {
    if (!existsSync(path.join(board.paramsDir, 'mnist', 'lfcW1A1')))
      await pushParamSet(target(), loadLocalParamSet(MNIST_PARAMS), 'mnist');
    const out = path.join(board.dir, 'predictions.txt');
    const r = await validate(board, {
      dataset: 'mnist',
      images: MNIST_IMAGES,
      labels: MNIST_LABELS,
      predictionsOut: out,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('images      10000');
    expect(r.stdout).toContain('accuracy    98.40 % on the board (9840 / 10000)');
    expect(r.stdout).toMatch(/speed {7}\d+\.\d\d µs\/image \(as the board reports it\)/);
    expect(r.stdout).toContain('verify      98.40 % predicted for the same files');
    expect(r.stdout).toContain('disagree    0 of 10000 images');

    // The predictions are the stand-in classifier's own: run it directly, without the CLI.
    const direct = standInPython(
      board,
      `import bnn, gzip, tempfile, sys
raw = gzip.open(sys.argv[1]).read()
with tempfile.NamedTemporaryFile() as f:
    f.write(raw); f.flush()
    c = bnn.LfcClassifier(bnn.NETWORK_LFCW1A1, "mnist", bnn.RUNTIME_HW)
    p = c.classify_mnists(f.name)
sys.stderr.write("\\n".join(str(int(x)) for x in p) + "\\n")`,
      MNIST_IMAGES,
    );
    const fromCli = readFileSync(out, 'utf8');
    expect(fromCli.split('\n').length).toBe(10001);
    expect(fromCli).toBe(String(direct));
    // ... and they equal our simulator's on the shipped folder.
    const sim = classify(
      paramsFromFiles(readFolder(MNIST_PARAMS), 'mnist'),
      readIdxImages(readFileSync(MNIST_IMAGES), 'img'),
    );
    expect(fromCli).toBe(`${Array.from(sim).join('\n')}\n`);
  });

  test('validate counts disagreements when the board computes something else, and fails', async () => {
    // Make this board's classifier pick the lowest set output bit instead of the highest.
    await withPatchedBnnPy(
      board,
      'highest = out.shape[1] - 1 - np.argmax(out[:, ::-1], axis=1)',
      'highest = np.argmax(out, axis=1)',
      async () => {
        const r = await validate(board, { dataset: 'mnist', images: MNIST_IMAGES, labels: MNIST_LABELS });
        expect(r.status).toBe(3);
        const m = /disagree {4}(\d+) of 10000 images/.exec(r.stdout);
        expect(Number(m?.[1])).toBeGreaterThan(0);
        expect(r.stderr).toMatch(
          /^error: the board classified \d+ images differently from verify \(#\d+: board \d, verify \d, label \d/,
        );
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      },
    );
  });

  test('validate of a dataset the board does not have is one line with the fix', async () => {
    const r = await validate(board, { dataset: 'kmnist', images: MNIST_IMAGES, labels: MNIST_LABELS });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `error: board root@board: the board has no lfcW1A1 set for kmnist (${board.paramsDir}/kmnist/lfcW1A1 missing); push it first: bnn-pynq board push <host> --params <dir> --dataset kmnist\n`,
    );
  });
});
