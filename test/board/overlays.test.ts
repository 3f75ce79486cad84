import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { readCifarRecords, writeCifarRecords } from '../../lib/bnn/cifar';
import { mulberry32 } from '../../lib/dataset/random';
import { must } from '../../lib/defined';
import { runCli, SHARED_DATA } from '../support/cli';
import {
  boardCli,
  leftovers,
  MNIST_IMAGES,
  MNIST_LABELS,
  readFolder,
  standInPython,
  validate,
  withPatchedBnnPy,
} from './support/helpers';
import { type StandInBoard, startStandInBoard } from './support/standin-board';

// board push / validate / check for the CNV overlays and lfcW1A2, against the stand-in board: real sshd,
// and a stand-in `bnn` package whose CnvClassifier computes each overlay in numpy from the param files.
// First the stand-in itself is held to the scores the real board printed in BNN-PYNQ's notebooks; then
// `board validate` compares it with our simulator image by image, on a test split `dataset import
// --format cifar` wrote from colour image files.

jest.setTimeout(600_000); // ssh sessions and numpy convolutions on a shared, loaded 2-core machine

const SHIPPED = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const NOTEBOOK = path.join(SHARED_DATA, 'cnv-board-images');
const NOTEBOOK_FILES = [
  'airplane-notebook.bin',
  'car-notebook.bin',
  'bird-notebook.bin',
  'deer-notebook.bin',
];
/** CIFAR-10 labels of the four notebook photos (airplane, automobile, bird, deer). */
const NOTEBOOK_LABELS = [0, 1, 2, 4];

let board: StandInBoard;
let work: string;
/** The test split of an imported colour dataset: test_batch.bin from `dataset export-test`. */
let testBatch: string;
/** The four notebook photos as one records file, with their CIFAR-10 labels. */
let notebook: string;

beforeAll(async () => {
  board = await startStandInBoard();
  work = path.join(board.dir, 'work');
  mkdirSync(work);
  const planar = NOTEBOOK_FILES.map((f) => readCifarRecords(readFileSync(path.join(NOTEBOOK, f)), f).pixels);
  notebook = path.join(work, 'notebook.bin');
  writeFileSync(
    notebook,
    writeCifarRecords({
      count: 4,
      labels: Uint8Array.from(NOTEBOOK_LABELS),
      pixels: Uint8Array.from(planar.flatMap((p) => [...p])),
    }),
  );
  // A colour dataset: 30 seeded noise images per class plus the notebook photo of that class, as PNG files.
  const random = mulberry32(5);
  const src = path.join(work, 'photos');
  const classes = ['airplane', 'automobile', 'bird', 'deer'];
  for (const [c, cls] of classes.entries()) {
    mkdirSync(path.join(src, cls), { recursive: true });
    const images = [must(planar[c], 'planar[c]')];
    for (let k = 0; k < 30; k++)
      images.push(Uint8Array.from({ length: 3072 }, () => Math.floor(random() * 256)));
    for (const [k, p] of images.entries()) {
      const rgb = Buffer.alloc(3072);
      for (let i = 0; i < 1024; i++)
        for (let ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = must(p[ch * 1024 + i], 'p[ch * 1024 + i]');
      writeFileSync(
        path.join(src, cls, `${k}.png`),
        await sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } })
          .png()
          .toBuffer(),
      );
    }
  }
  const dataset = path.join(work, 'datasets', 'photos');
  const imported = await runCli([
    'dataset',
    'import',
    src,
    '--name',
    'photos',
    '--format',
    'cifar',
    '--out',
    dataset,
    '--split',
    '0/0/100',
  ]);
  expect(imported.stderr).toBe('');
  const exported = await runCli([
    'dataset',
    'export-test',
    'photos',
    '--from',
    dataset,
    '--out',
    path.join(work, 'test'),
  ]);
  expect(exported.stderr).toBe('');
  testBatch = path.join(work, 'test', 'test_batch.bin');
});
afterAll(async () => {
  await board?.stop();
});

describe('every overlay on the stand-in board', () => {
  test('push installs CNV and lfcW1A2 sets at <bnn>/params/<dataset>/<network>/, byte-identical, next to each other', async () => {
    for (const network of ['cnvW1A1', 'cnvW1A2', 'cnvW2A2']) {
      const r = await boardCli(board, 'push', board.host, [
        '--params',
        path.join(SHIPPED, 'cifar10', network),
      ]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const files = network === 'cnvW2A2' ? 101 : 179;
      expect(r.stdout).toContain(`pushed      ${files} files (`);
      expect(r.stdout).toContain(`of a ${network} set from ${path.join(SHIPPED, 'cifar10', network)}`);
      expect(r.stdout).toContain(`installed   root@board:${path.join(board.paramsDir, 'cifar10', network)}`);
      expect(r.stdout).toContain(
        `next        bnn-pynq board validate board --dataset cifar10 --network ${network}`,
      );
      expect(readFolder(path.join(board.paramsDir, 'cifar10', network))).toEqual(
        readFolder(path.join(SHIPPED, 'cifar10', network)),
      );
    }
    // lfcW1A2 from a folder NOT named after it: recognised by its file sizes; the dataset comes from --dataset.
    const unnamed = path.join(work, 'my-copy');
    cpSync(path.join(SHIPPED, 'mnist', 'lfcW1A2'), unnamed, { recursive: true });
    const r = await boardCli(board, 'push', board.host, ['--params', unnamed, '--dataset', 'mnist']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`pushed      289 files (`);
    expect(r.stdout).toContain('of an lfcW1A2 set');
    const lfc = await boardCli(board, 'push', board.host, [
      '--params',
      path.join(SHIPPED, 'mnist', 'lfcW1A1'),
    ]);
    expect(lfc.status).toBe(0);
    expect(readFolder(path.join(board.paramsDir, 'mnist', 'lfcW1A2'))).toEqual(
      readFolder(path.join(SHIPPED, 'mnist', 'lfcW1A2')),
    );
    expect(readFolder(path.join(board.paramsDir, 'mnist', 'lfcW1A1'))).toEqual(
      readFolder(path.join(SHIPPED, 'mnist', 'lfcW1A1')),
    );
    expect(leftovers(board)).toEqual([]);

    const check = await boardCli(board, 'check', board.host);
    expect(check.status).toBe(0);
    expect(check.stdout).toContain(
      'overlays    cnvW1A1, cnvW1A2, cnvW2A2, lfcW1A1, lfcW1A2 (bitstreams for pynqZ1-Z2)',
    );
    expect(check.stdout).toContain(
      'param sets  cifar10/cnvW1A1, cifar10/cnvW1A2, cifar10/cnvW2A2, mnist/lfcW1A1, mnist/lfcW1A2',
    );
  });

  test("the stand-in's CnvClassifier prints the scores the real board printed in BNN-PYNQ's notebooks", () => {
    const manifest = JSON.parse(readFileSync(path.join(NOTEBOOK, 'manifest.json'), 'utf8')) as Array<{
      file: string;
      expected_scores: Record<string, number[]>;
    }>;
    const got = JSON.parse(
      must(
        standInPython(
          board,
          `import bnn, json, sys
out = {}
for e in json.load(open(sys.argv[1])):
    for net in e["expected_scores"]:
        c = bnn.CnvClassifier(net, "cifar10", bnn.RUNTIME_HW)
        out[e["file"] + " " + net] = [int(v) for v in c.classify_cifars_details(sys.argv[2] + "/" + e["file"])]
sys.stderr.write(json.dumps(out))`,
          path.join(NOTEBOOK, 'manifest.json'),
          NOTEBOOK,
        )
          .split('\n')
          .at(-1),
        "the stand-in's last stderr line",
      ),
    );
    const want: Record<string, number[]> = {};
    for (const e of manifest)
      for (const [net, scores] of Object.entries(e.expected_scores)) want[`${e.file} ${net}`] = scores;
    expect(Object.keys(want)).toHaveLength(6);
    expect(got).toEqual(want);
  });

  test("validate runs CnvClassifier.classify_cifars on the photos: the board's classes, 0 disagreements with verify", async () => {
    const out = path.join(work, 'notebook-predictions.txt');
    const r = await validate(board, {
      dataset: 'cifar10',
      network: 'cnvW1A1',
      images: notebook,
      predictionsOut: out,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`board       root@board, ${path.join(board.paramsDir, 'cifar10', 'cnvW1A1')}`);
    expect(r.stdout).toContain('network     cnvW1A1 (CnvClassifier.classify_cifars, hardware runtime)');
    expect(r.stdout).toContain('accuracy    100.00 % on the board (4 / 4)');
    expect(r.stdout).toContain('disagree    0 of 4 images');
    // The class of the highest score the real board printed for each photo.
    expect(readFileSync(out, 'utf8')).toBe('0\n1\n2\n4\n');
  });

  test.each(['cnvW1A1', 'cnvW1A2', 'cnvW2A2'])(
    "validate %s on an imported colour dataset's exported test_batch.bin: board and verify agree image by image",
    async (network) => {
      const out = path.join(work, `${network}-predictions.txt`);
      const r = await validate(board, {
        dataset: 'cifar10',
        network,
        images: testBatch,
        predictionsOut: out,
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`images      124 (${testBatch})`);
      expect(r.stdout).toContain('disagree    0 of 124 images');
      const onBoard = /accuracy {4}(\d+\.\d\d) %/.exec(r.stdout)?.[1];
      expect(r.stdout).toContain(`verify      ${onBoard} % predicted for the same files`);
      // The same predictions as `bnn-pynq verify` of the shipped folder on the same file.
      const verified = path.join(work, `${network}-verify.txt`);
      const v = await runCli([
        'verify',
        path.join(SHIPPED, 'cifar10', network),
        '--images',
        testBatch,
        '--predictions',
        verified,
      ]);
      expect(v.status).toBe(0);
      const predictions = readFileSync(out, 'utf8');
      expect(predictions).toBe(readFileSync(verified, 'utf8'));
      expect(new Set(predictions.trim().split('\n')).size).toBeGreaterThan(1); // not a constant answer
    },
  );

  test('validate lfcW1A2: LfcClassifier.classify_mnists, 98.49 % on MNIST, 0 disagreements', async () => {
    const r = await validate(board, {
      dataset: 'mnist',
      network: 'lfcW1A2',
      images: MNIST_IMAGES,
      labels: MNIST_LABELS,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('network     lfcW1A2 (LfcClassifier.classify_mnists, hardware runtime)');
    expect(r.stdout).toContain('accuracy    98.49 % on the board (9849 / 10000)');
    expect(r.stdout).toContain('disagree    0 of 10000 images');
  });

  test('a board whose CNV driver reads the channels in another order disagrees with verify, and validate fails', async () => {
    await withPatchedBnnPy(
      board,
      'return x.transpose(0, 2, 3, 1)',
      'return x[:, ::-1].transpose(0, 2, 3, 1)',
      async () => {
        const r = await validate(board, { dataset: 'cifar10', network: 'cnvW1A1', images: testBatch });
        expect(r.status).toBe(3);
        expect(Number(/disagree {4}(\d+) of 124 images/.exec(r.stdout)?.[1])).toBeGreaterThan(0);
        expect(r.stderr).toMatch(
          /^error: the board classified \d+ images differently from verify \(#\d+: board \d, verify \d, label \d/,
        );
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      },
    );
  });

  test('refusals: several CNV sets and no --network; a network that reads the other kind of input; idx images without labels', async () => {
    const several = await validate(board, { dataset: 'cifar10', images: testBatch });
    expect(several.status).toBe(2);
    expect(several.stderr).toBe(
      'error: board root@board: the board has CNV sets for cifar10 (cnvW1A1, cnvW1A2, cnvW2A2); pass --network to say which one to validate\n',
    );
    const wrong = await validate(board, { dataset: 'cifar10', network: 'lfcW1A1', images: testBatch });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toBe(
      `error: --labels <idx1> is required for lfcW1A1: the labels of --images (CNV networks take CIFAR-10 records without --labels)\n`,
    );
    const noLabels = await validate(board, { dataset: 'mnist', images: MNIST_IMAGES });
    expect(noLabels.status).toBe(2);
    expect(noLabels.stderr).toBe(
      `error: ${MNIST_IMAGES}: idx3 images need --labels <idx1> (an LFC network); CNV networks take CIFAR-10 records\n`,
    );
    const missing = await validate(board, { dataset: 'photos', images: testBatch });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      `error: board root@board: the board has no cnvW1A1 set for photos (${board.paramsDir}/photos/cnvW1A1 missing); push it first: bnn-pynq board push <host> --params <dir> --dataset photos\n`,
    );
  });
});
