import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { progressLines } from '../report/fixtures';
import { SHARED_DATA } from '../support/cli';
import { gzipBomb, idxHeader } from './bombs';
import { changes, failureProblems, runBinary, runInProcess, snapshot } from './harness';

/**
 * The safety invariants of every offline command that takes a path (issue 14), checked on the real CLI:
 * for each command and each class of bad input, the command exits non-zero with exactly one `error:` line
 * and no stack trace, every file of the world it ran in is byte-identical afterwards (inputs and anything
 * else; a failed command writes nothing), and no temporary is left. Most cases run in-process through the
 * same program and failure mapping as bin/bnn-pynq.js (the child-process start-up would dominate); a
 * representative subset runs the real binary, and the cases that need another user (permissions), a
 * private mount (full or read-only disk, a mount point) or a pipe run only there.
 */
jest.setTimeout(600_000);

const NPZ = path.join(SHARED_DATA, 'npz', 'fashion-mnist-lfc-w1a1.npz');
const SAMPLE = path.join(SHARED_DATA, 'fashion-mnist-sample');
const NOBODY = 65534;

let w: string;
const counts = { inProcess: 0, binary: 0, property: 0 };

function png28(value: number): Buffer {
  const image = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
  image.data = Buffer.alloc(28 * 28 * 4);
  for (let i = 0; i < 28 * 28; i++) {
    const v = (i % 28) + Math.floor(i / 28) > 20 ? value : 0;
    image.data.fill(v, i * 4, i * 4 + 3);
    image.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(image, { colorType: 0, inputColorType: 6 });
}

function emptyIdx(ndim: 1 | 3): Buffer {
  return gzipSync(idxHeader(ndim === 3 ? [0, 28, 28] : [0]));
}

beforeAll(async () => {
  w = mkdtempSync(path.join(os.tmpdir(), 'bnn-safety-'));
  chmodSync(w, 0o755);
  copyFileSync(NPZ, path.join(w, 'model.npz'));
  copyFileSync(path.join(SAMPLE, 't10k-images-idx3-ubyte.gz'), path.join(w, 'images.gz'));
  copyFileSync(path.join(SAMPLE, 't10k-labels-idx1-ubyte.gz'), path.join(w, 'labels.gz'));
  copyFileSync(path.join(SAMPLE, 'train-images-idx3-ubyte.gz'), path.join(w, 'train-images.gz'));
  copyFileSync(path.join(SAMPLE, 'train-labels-idx1-ubyte.gz'), path.join(w, 'train-labels.gz'));
  writeFileSync(path.join(w, 'empty-images.gz'), emptyIdx(3));
  writeFileSync(path.join(w, 'empty-labels.gz'), emptyIdx(1));
  writeFileSync(path.join(w, 'bomb-images.gz'), gzipBomb(idxHeader([100, 28, 28]), 64 << 20));
  writeFileSync(path.join(w, 'notes.txt'), 'my notes\n');
  writeFileSync(path.join(w, 'empty.npz'), '');
  const classes = [
    'tshirt',
    'trouser',
    'pullover',
    'dress',
    'coat',
    'sandal',
    'shirt',
    'sneaker',
    'bag',
    'boot',
  ];
  writeFileSync(path.join(w, 'classes.txt'), `${classes.join('\n')}\n`);
  writeFileSync(path.join(w, 'classes-dup.txt'), `${[...classes.slice(0, 9), 'coat'].join('\n')}\n`);
  writeFileSync(
    path.join(w, 'classes-blank.txt'),
    `${[...classes.slice(0, 4), '', ...classes.slice(5)].join('\n')}\n`,
  );
  writeFileSync(path.join(w, 'classes-ctrl.txt'), `${[...classes.slice(0, 9), 'bo\u0007ot'].join('\n')}\n`);
  writeFileSync(path.join(w, 'classes-none.txt'), '\n\n');
  writeFileSync(path.join(w, 'classes-11.txt'), `${[...classes, 'extra'].join('\n')}\n`);
  writeFileSync(
    path.join(w, 'classes-65.txt'),
    `${Array.from({ length: 65 }, (_, i) => `c${i}`).join('\n')}\n`,
  );
  execFileSync('mkfifo', [path.join(w, 'fifo')]);
  symlinkSync('nowhere', path.join(w, 'dangling'));
  symlinkSync('loop', path.join(w, 'loop'));
  for (const [c, v] of [
    ['cat', 200],
    ['dog', 120],
  ] as const) {
    mkdirSync(path.join(w, 'src', c), { recursive: true });
    for (let i = 0; i < 10; i++) writeFileSync(path.join(w, 'src', c, `${i}.png`), png28(v + i));
  }
  mkdirSync(path.join(w, 'src-empty', 'cat'), { recursive: true });
  mkdirSync(path.join(w, 'src-empty', 'dog'), { recursive: true });
  mkdirSync(path.join(w, 'run'));
  writeFileSync(path.join(w, 'run', 'progress.jsonl'), `${progressLines(3).join('\n')}\n`);
  mkdirSync(path.join(w, 'run-dir', 'progress.jsonl'), { recursive: true });
  mkdirSync(path.join(w, 'cases'));
  // The outputs a user already has: a param folder and an imported dataset, made by the commands themselves.
  for (const args of [
    ['convert', 'model.npz', '--out', 'params'],
    ['dataset', 'import', 'src', '--name', 'pets', '--out', 'ds'],
  ]) {
    const r = await runInProcess(args, w);
    if (r.status !== 0) throw new Error(`fixture ${args.join(' ')}: ${r.stderr}`);
  }
});

afterAll(() => {
  rmSync(w, { recursive: true, force: true });
  process.stdout.write(
    `invariant harness: ${counts.inProcess} cases in-process, ${counts.binary} with the real binary, ${counts.property} generated path layouts\n`,
  );
});

const P = 'params/fashion-mnist/lfcW1A1';

interface Case {
  name: string;
  /** Makes what the case needs under `cases/<id>/` (part of the world the snapshot covers). */
  setup?: (dir: string) => void;
  args: (dir: string) => string[];
  message: RegExp;
}

const copyParams = (dir: string, to = 'params') => {
  cpSync(path.join(w, 'params'), path.join(dir, to), { recursive: true });
};

/** `verify <params> --images images.gz --labels labels.gz ...more`: the verify cases' common arguments. */
const verifyArgs = (params: string, ...more: string[]): string[] => [
  'verify',
  params,
  '--images',
  'images.gz',
  '--labels',
  'labels.gz',
  ...more,
];

/** `convert model.npz --out o` calibrated on these files. */
const calibrateArgs = (images: string, labels: string): string[] => [
  'convert',
  'model.npz',
  '--out',
  'o',
  '--calibrate-images',
  images,
  '--calibrate-labels',
  labels,
];

/** `board validate` (its local side, before any ssh) with these test files. */
const boardValidateArgs = (images: string, labels: string, ...more: string[]): string[] => [
  'board',
  'validate',
  '127.0.0.1',
  '--dataset',
  'fashion-mnist',
  '--images',
  images,
  '--labels',
  labels,
  ...more,
];

/** verify on a copy of the param folder whose `file` was replaced by a folder or a dangling link. */
const damagedParamFile = (file: string, by: 'folder' | 'dangling link', message: RegExp): Case => ({
  name: `verify: a ${by} where ${file === 'classes.txt' ? file : 'a .bin'} should be`,
  setup: (d) => {
    copyParams(d);
    const f = path.join(d, P, file);
    rmSync(f);
    if (by === 'folder') mkdirSync(f);
    else symlinkSync('gone.bin', f);
  },
  args: (d) => verifyArgs(`${d}/${P}`),
  message,
});

/** `command` × class of bad input. Paths are relative to the world folder (the command's cwd). */
const CASES: Case[] = [
  // ---- convert (and its calibration inputs) ----
  {
    name: 'convert: model missing (ENOENT)',
    args: () => ['convert', 'nope.npz', '--out', 'o'],
    message: /nope\.npz: no such file/,
  },
  {
    name: 'convert: model is a folder (EISDIR)',
    args: () => ['convert', 'src', '--out', 'o'],
    message: /src: is a folder, not a file/,
  },
  {
    name: 'convert: model is a dangling link',
    args: () => ['convert', 'dangling', '--out', 'o'],
    message: /dangling: no such file/,
  },
  {
    name: 'convert: model is a symlink loop (ELOOP)',
    args: () => ['convert', 'loop', '--out', 'o'],
    message: /loop: .*symbolic links.*ELOOP/,
  },
  {
    name: 'convert: model is a FIFO',
    args: () => ['convert', 'fifo', '--out', 'o'],
    message: /fifo: not a regular file/,
  },
  {
    name: 'convert: model is /dev/zero',
    args: () => ['convert', '/dev/zero', '--out', 'o'],
    message: /\/dev\/zero: not a regular file/,
  },
  {
    name: 'convert: model is empty',
    args: () => ['convert', 'empty.npz', '--out', 'o'],
    message: /empty\.npz: not a zip\/npz file/,
  },
  {
    name: 'convert: model path through a file (ENOTDIR)',
    args: () => ['convert', 'notes.txt/model.npz', '--out', 'o'],
    message: /notes\.txt\/model\.npz: a part of the path is not a folder/,
  },
  {
    name: 'convert --force: output folder holds the model itself',
    setup: (d) => {
      copyParams(d);
      copyFileSync(path.join(w, 'model.npz'), path.join(d, 'params/fashion-mnist/lfcW1A1/model.npz'));
    },
    args: (d) => [
      'convert',
      `${d}/params/fashion-mnist/lfcW1A1/model.npz`,
      '--out',
      `${d}/params`,
      '--force',
    ],
    message: /--out .*lfcW1A1 contains the model .*lfcW1A1\/model\.npz; an output must not overlap an input/,
  },
  {
    name: 'convert --force: output folder holds a file convert did not write',
    setup: (d) => {
      copyParams(d);
      writeFileSync(path.join(d, 'params/fashion-mnist/lfcW1A1/README'), 'mine');
    },
    args: (d) => ['convert', 'model.npz', '--out', `${d}/params`, '--force'],
    message: /refusing to replace .*lfcW1A1: it holds .*lfcW1A1\/README, which is not part of a param folder/,
  },
  {
    name: 'convert --force: output folder holds a sub-folder',
    setup: (d) => {
      copyParams(d);
      mkdirSync(path.join(d, 'params/fashion-mnist/lfcW1A1/old'));
    },
    args: (d) => ['convert', 'model.npz', '--out', `${d}/params`, '--force'],
    message: /refusing to replace .*lfcW1A1: it holds .*lfcW1A1\/old\//,
  },
  {
    name: 'convert --force: output is a symlink to a folder',
    setup: (d) => {
      mkdirSync(path.join(d, 'params/fashion-mnist'), { recursive: true });
      symlinkSync(path.join(w, 'src'), path.join(d, 'params/fashion-mnist/lfcW1A1'));
    },
    args: (d) => ['convert', 'model.npz', '--out', `${d}/params`, '--force'],
    message: /lfcW1A1 exists and is a symbolic link, not a param folder/,
  },
  {
    name: 'convert: output exists, no --force',
    args: () => ['convert', 'model.npz', '--out', 'params'],
    message: /lfcW1A1 already exists; .*--force/,
  },
  {
    name: 'convert: --out under a regular file (ENOTDIR)',
    args: () => ['convert', 'model.npz', '--out', 'notes.txt'],
    message: /a part of the path is a file, not a folder/,
  },
  {
    name: 'convert: --classes missing',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'nope.txt'],
    message: /nope\.txt: no such file/,
  },
  {
    name: 'convert: --classes is a folder',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'src'],
    message: /src: is a folder/,
  },
  {
    name: 'convert: --classes with a duplicate',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-dup.txt'],
    message: /classes-dup\.txt: line 10: class 'coat' is listed twice/,
  },
  {
    name: 'convert: --classes with an empty line',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-blank.txt'],
    message: /classes-blank\.txt: line 5 is empty/,
  },
  {
    name: 'convert: --classes with a control character',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-ctrl.txt'],
    message: /classes-ctrl\.txt: line 10: class name .* contains a control character/,
  },
  {
    name: 'convert: --classes empty',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-none.txt'],
    message: /classes-none\.txt: no class names/,
  },
  {
    name: 'convert: --classes with 65 names',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-65.txt'],
    message: /65 class names, but the lfcW1A1 overlay has at most 64/,
  },
  {
    name: 'convert: --classes with 11 names for 10 outputs',
    args: () => ['convert', 'model.npz', '--out', 'o', '--classes', 'classes-11.txt'],
    message: /11 class names, but model\.npz has 10 outputs/,
  },
  {
    name: 'convert: --calibrate-images missing',
    args: () => calibrateArgs('nope.gz', 'train-labels.gz'),
    message: /nope\.gz: no such file/,
  },
  {
    name: 'convert: --calibrate-images with 0 images',
    args: () => calibrateArgs('empty-images.gz', 'empty-labels.gz'),
    message: /empty-images\.gz: holds no images/,
  },
  {
    name: 'convert: --calibrate-images is a gzip bomb',
    args: () => calibrateArgs('bomb-images.gz', 'train-labels.gz'),
    message: /bomb-images\.gz: size disagrees with its header/,
  },
  {
    name: 'convert: --out resolves (through a symlink) to the folder holding --classes',
    setup: (d) => {
      mkdirSync(path.join(d, 'real/fashion-mnist/lfcW1A1'), { recursive: true });
      writeFileSync(path.join(d, 'real/fashion-mnist/lfcW1A1/classes.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n');
      symlinkSync('real', path.join(d, 'alias'));
    },
    args: (d) => [
      'convert',
      'model.npz',
      '--out',
      `${d}/alias`,
      '--force',
      '--classes',
      `${d}/real/fashion-mnist/lfcW1A1/classes.txt`,
    ],
    message: /--out .*alias\/fashion-mnist\/lfcW1A1 contains --classes .*\(real paths /,
  },

  // ---- verify, incl. --predictions ----
  {
    name: 'verify: param folder missing',
    args: () => verifyArgs('nope'),
    message: /nope: no such folder/,
  },
  {
    name: 'verify: param folder is a file',
    args: () => verifyArgs('notes.txt'),
    message: /notes\.txt: not a folder/,
  },
  damagedParamFile('0-0-weights.bin', 'folder', /0-0-weights\.bin: a folder where a param file should be/),
  damagedParamFile(
    '0-0-weights.bin',
    'dangling link',
    /0-0-weights\.bin: a dangling symbolic link where a param file should be/,
  ),
  damagedParamFile('classes.txt', 'folder', /classes\.txt: a folder where a param file should be/),
  {
    name: 'verify: --images missing',
    args: () => ['verify', P, '--images', 'nope.gz', '--labels', 'labels.gz'],
    message: /nope\.gz: no such file/,
  },
  {
    name: 'verify: --images is a folder',
    args: () => ['verify', P, '--images', 'src', '--labels', 'labels.gz'],
    message: /src: is a folder/,
  },
  {
    name: 'verify: --images is a FIFO',
    args: () => ['verify', P, '--images', 'fifo', '--labels', 'labels.gz'],
    message: /fifo: not a regular file/,
  },
  {
    name: 'verify: --labels is a dangling link',
    args: () => ['verify', P, '--images', 'images.gz', '--labels', 'dangling'],
    message: /dangling: no such file/,
  },
  {
    name: 'verify: 0 images',
    args: () => ['verify', P, '--images', 'empty-images.gz', '--labels', 'empty-labels.gz'],
    message: /empty-images\.gz: holds no images/,
  },
  {
    name: 'verify: gzip bomb images',
    args: () => ['verify', P, '--images', 'bomb-images.gz', '--labels', 'labels.gz'],
    message: /bomb-images\.gz: size disagrees with its header/,
  },
  {
    name: 'verify: --predictions is --images',
    args: () => verifyArgs(P, '--predictions', 'images.gz'),
    message: /--predictions images\.gz is --images images\.gz; an output must not overlap an input/,
  },
  {
    name: 'verify: --predictions is --labels via ./',
    args: () => verifyArgs(P, '--predictions', './labels.gz'),
    message: /--predictions \.\/labels\.gz is --labels labels\.gz/,
  },
  {
    name: 'verify: --predictions inside the param folder',
    args: () => verifyArgs(P, '--predictions', `${P}/p.txt`),
    message: /--predictions .*lfcW1A1\/p\.txt lies inside the param folder/,
  },
  {
    name: 'verify: --predictions is the param folder',
    args: () => verifyArgs(P, '--predictions', P),
    message: /--predictions .*lfcW1A1 is the param folder/,
  },
  {
    name: 'verify: --predictions onto a file verify did not write',
    args: () => verifyArgs(P, '--predictions', 'notes.txt'),
    message: /refusing to overwrite .*notes\.txt: it is not a predictions file/,
  },
  {
    name: 'verify: --predictions is a folder',
    args: () => verifyArgs(P, '--predictions', 'src'),
    message: /--predictions .*src is a folder/,
  },
  {
    name: 'verify: --predictions in a missing folder',
    args: () => verifyArgs(P, '--predictions', 'no/p.txt'),
    message: /--predictions .*no\/p\.txt: folder .* does not exist/,
  },
  {
    name: 'verify: --predictions under a regular file',
    args: () => verifyArgs(P, '--predictions', 'notes.txt/p.txt'),
    message: /notes\.txt\/p\.txt: .*(is a file, not a folder|a part of the path is not a folder \(ENOTDIR\))/,
  },
  {
    name: 'verify: --against missing',
    args: () => verifyArgs(P, '--against', 'nope.npz'),
    message: /nope\.npz: no such file/,
  },

  // ---- dataset import ----
  {
    name: 'dataset import: source missing',
    args: () => ['dataset', 'import', 'nope', '--name', 'x', '--out', 'o'],
    message: /nope: no such folder or \.zip file/,
  },
  {
    name: 'dataset import: source is a file',
    args: () => ['dataset', 'import', 'notes.txt', '--name', 'x', '--out', 'o'],
    message: /notes\.txt: not a folder or a \.zip file/,
  },
  {
    name: 'dataset import: source with 0 images',
    args: () => ['dataset', 'import', 'src-empty', '--name', 'x', '--out', 'o'],
    message: /class 'cat' is empty/,
  },
  {
    name: 'dataset import: --out is the source',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'src', '--force'],
    message: /--out .*src is the source .*src; an output must not overlap an input/,
  },
  {
    name: 'dataset import: --out inside the source',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'src/cat/ds', '--force'],
    message: /--out .*src\/cat\/ds lies inside the source .*src;/,
  },
  {
    name: 'dataset import: --out contains the source',
    setup: (d) => cpSync(path.join(w, 'src'), path.join(d, 'src'), { recursive: true }),
    args: (d) => ['dataset', 'import', `${d}/src`, '--name', 'x', '--out', d, '--force'],
    message: /--out .* contains the source /,
  },
  {
    name: 'dataset import: --out . (the current folder)',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', '.', '--force'],
    message: /--out (\.|\/.*) is the current folder/,
  },
  {
    name: 'dataset import: --out .. (a parent of the current folder)',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', '..', '--force'],
    message: /--out (\.\.|\/.*) is a parent of the current folder/,
  },
  {
    name: 'dataset import: --out /',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', '/', '--force'],
    message: /--out \/ is the file system root/,
  },
  {
    name: 'dataset import --force: a folder that is not a dataset (user files)',
    setup: (d) => {
      mkdirSync(path.join(d, 'photos'));
      writeFileSync(path.join(d, 'photos', 'holiday.jpg'), 'jpeg');
    },
    args: (d) => ['dataset', 'import', 'src', '--name', 'x', '--out', `${d}/photos`, '--force'],
    message:
      /refusing to replace .*photos: it holds .*photos\/holiday\.jpg, which is not part of a dataset folder/,
  },
  {
    name: 'dataset import --force: dataset file names but no dataset.json of ours',
    setup: (d) => {
      mkdirSync(path.join(d, 'lookalike'));
      writeFileSync(path.join(d, 'lookalike', 'classes.txt'), 'a\nb\n');
    },
    args: (d) => ['dataset', 'import', 'src', '--name', 'x', '--out', `${d}/lookalike`, '--force'],
    message: /refusing to replace .*lookalike: it holds no dataset\.json of a bnn-pynq dataset/,
  },
  {
    name: 'dataset import: output exists, no --force',
    args: () => ['dataset', 'import', 'src', '--name', 'pets', '--out', 'ds'],
    message: /ds already exists; .*--force/,
  },
  {
    name: 'dataset import: --out under a regular file',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'notes.txt/ds'],
    message: /notes\.txt\/ds: a part of the path is (a file, not a folder|not a folder)/,
  },
  {
    name: 'dataset import: --classes with a duplicate',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'o', '--classes', 'classes-dup.txt'],
    message: /classes-dup\.txt: line 10: class 'coat' is listed twice/,
  },
  {
    name: 'dataset import: --classes with a control character',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'o', '--classes', 'classes-ctrl.txt'],
    message: /classes-ctrl\.txt: line 10: class name .* contains a control character/,
  },
  {
    name: 'dataset import: --classes is a FIFO',
    args: () => ['dataset', 'import', 'src', '--name', 'x', '--out', 'o', '--classes', 'fifo'],
    message: /fifo: not a regular file/,
  },
  {
    name: 'dataset import: one file linked into two classes',
    setup: (d) => {
      cpSync(path.join(w, 'src'), path.join(d, 'src'), { recursive: true });
      symlinkSync('../cat/0.png', path.join(d, 'src', 'dog', 'also-cat.png'));
    },
    args: (d) => ['dataset', 'import', `${d}/src`, '--name', 'x', '--out', `${d}/o`],
    message:
      /src\/dog\/also-cat\.png and .*src\/cat\/0\.png are the same file \(a link\) in two class folders/,
  },
  {
    name: 'dataset import: source is a corrupt .zip',
    setup: (d) => writeFileSync(path.join(d, 'bad.zip'), 'PK not really'),
    args: (d) => ['dataset', 'import', `${d}/bad.zip`, '--name', 'x', '--out', `${d}/o`],
    message: /bad\.zip: not a readable zip archive/,
  },

  // ---- dataset export-test ----
  {
    name: 'export-test: --out is the dataset folder',
    args: () => ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', 'ds', '--force'],
    message: /--out .*ds is the dataset folder \(--from\) .*ds;/,
  },
  {
    name: 'export-test: --out inside the dataset folder',
    args: () => ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', 'ds/test', '--force'],
    message: /--out .*ds\/test lies inside the dataset folder/,
  },
  {
    name: 'export-test: --from missing',
    args: () => ['dataset', 'export-test', 'pets', '--from', 'nope', '--out', 'o'],
    message: /nope\/dataset\.json not found/,
  },
  {
    name: 'export-test --force: a folder of user files',
    setup: (d) => writeFileSync(path.join(d, 'keep.txt'), 'x'),
    args: (d) => ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', d, '--force'],
    message: /refusing to replace .*: it holds .*keep\.txt, which is not part of a exported test split/,
  },
  {
    name: 'export-test: --out . ',
    args: () => ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', '.', '--force'],
    message: /--out (\.|\/.*) is the current folder/,
  },
  {
    name: 'export-test: --out exists, no --force',
    args: () => ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', 'src'],
    message: /src already exists/,
  },

  // ---- report ----
  {
    name: 'report: --local missing',
    args: () => ['report', 'run-1', '--local', 'nope', '--out', 'r.html'],
    message: /nope\/progress\.jsonl does not exist/,
  },
  {
    name: 'report: progress.jsonl is a folder',
    args: () => ['report', 'run-1', '--local', 'run-dir', '--out', 'r.html'],
    message: /run-dir\/progress\.jsonl: is a folder, not a file/,
  },
  {
    name: 'report: --out is its own progress.jsonl',
    args: () => ['report', 'run-1', '--local', 'run', '--out', 'run/progress.jsonl'],
    message: /--out run\/progress\.jsonl lies inside --local run; an output must not overlap an input/,
  },
  {
    name: 'report: --out is the --local folder',
    args: () => ['report', 'run-1', '--local', 'run', '--out', 'run'],
    message: /--out run is --local run/,
  },
  {
    name: 'report: --out onto a file report did not write',
    args: () => ['report', 'run-1', '--local', 'run', '--out', 'notes.txt'],
    message: /refusing to overwrite .*notes\.txt: it is not a bnn-pynq report/,
  },
  {
    name: 'report: --out is a folder',
    args: () => ['report', 'run-1', '--local', 'run', '--out', 'src'],
    message: /--out .*src is a folder; pass a file name/,
  },
  {
    name: 'report: --out in a missing folder',
    args: () => ['report', 'run-1', '--local', 'run', '--out', 'no/r.html'],
    message: /folder .*no does not exist/,
  },

  // ---- board (local side, before any ssh) ----
  {
    name: 'board push: --params missing',
    args: () => ['board', 'push', '127.0.0.1', '--params', 'nope'],
    message: /nope: no such folder/,
  },
  {
    name: 'board validate: --predictions-out is --images',
    args: () => boardValidateArgs('images.gz', 'labels.gz', '--predictions-out', 'images.gz'),
    message: /--predictions-out images\.gz is --images images\.gz/,
  },
  {
    name: 'board validate: --images is a FIFO',
    args: () => boardValidateArgs('fifo', 'labels.gz'),
    message: /fifo: not a regular file/,
  },
];

/** Runs one case and returns what broke (empty when every invariant holds). */
async function check(c: Case, index: number, run: 'inProcess' | 'binary'): Promise<string[]> {
  const dir = path.join(w, 'cases', `${run}-${index}`);
  mkdirSync(dir);
  c.setup?.(dir);
  const before = snapshot(w);
  const r =
    run === 'inProcess' ? await runInProcess(c.args(dir), w) : await runBinary(c.args(dir), { cwd: w });
  counts[run]++;
  const problems = failureProblems(r, c.message);
  const changed = changes(before, snapshot(w));
  if (changed.length > 0) problems.push(`changed: ${changed.slice(0, 5).join(', ')}`);
  return problems.length
    ? [`${c.name}: ${problems.join('; ')} (stderr: ${r.stderr.trim().slice(0, 300)})`]
    : [];
}

test(`every command × every class of bad input (${CASES.length} cases, in-process)`, async () => {
  const broken: string[] = [];
  for (const [i, c] of CASES.entries()) broken.push(...(await check(c, i, 'inProcess')));
  expect(broken).toEqual([]);
});

test('a representative subset through the real binary (same invariants)', async () => {
  // Every fourth case: each command and most classes (missing, folder, FIFO, overlap, ownership, ...).
  const pick = CASES.map((_, i) => i).filter((i) => i % 4 === 0);
  const broken: string[] = [];
  for (const i of pick) {
    const c = CASES[i];
    if (c) broken.push(...(await check(c, i, 'binary')));
  }
  expect(broken).toEqual([]);
});

test('a successful run changes nothing but its declared output (and --force replaces only its own)', async () => {
  const d = path.join(w, 'cases', 'success');
  mkdirSync(d);
  const runs: Array<[string[], string]> = [
    [['convert', 'model.npz', '--out', `${d}/params`], `cases/success/params`],
    [['convert', 'model.npz', '--out', `${d}/params`, '--force'], `cases/success/params`],
    [verifyArgs(P, '--predictions', `${d}/p.txt`), 'cases/success/p.txt'],
    [verifyArgs(P, '--predictions', `${d}/p.txt`), 'cases/success/p.txt'],
    [['dataset', 'import', 'src', '--name', 'y', '--out', `${d}/ds`], 'cases/success/ds'],
    [
      ['dataset', 'import', 'src', '--name', 'y', '--out', `${d}/ds`, '--force', '--seed', '2'],
      'cases/success/ds',
    ],
    [['dataset', 'export-test', 'pets', '--from', 'ds', '--out', `${d}/test`], 'cases/success/test'],
    [
      ['dataset', 'export-test', 'pets', '--from', 'ds', '--out', `${d}/test`, '--force'],
      'cases/success/test',
    ],
    [['report', 'run-1', '--local', 'run', '--out', `${d}/r.html`], 'cases/success/r.html'],
    [['report', 'run-1', '--local', 'run', '--out', `${d}/r.html`], 'cases/success/r.html'],
  ];
  const broken: string[] = [];
  for (const [args, declared] of runs) {
    const before = snapshot(w);
    const r = await runInProcess(args, w);
    counts.inProcess++;
    const outside = changes(before, snapshot(w)).filter(
      (c) =>
        c.slice(2) !== declared && !c.slice(2).startsWith(`${declared}/`) && c.slice(2) !== 'cases/success',
    );
    if (r.status !== 0 || outside.length > 0)
      broken.push(
        `${args.join(' ')}: exit ${r.status}, changed outside ${declared}: ${outside.join(', ')} ${r.stderr}`,
      );
  }
  expect(broken).toEqual([]);
});

test('property: wherever --out points relative to the inputs (aliases, nesting, ..), an overlapping output is refused and nothing changes', async () => {
  // Layouts: the output is one of the inputs, a parent or an ancestor of one, or inside an input folder,
  // spelled directly, through a symlinked alias, or with `x/../` detours.
  const layout = fc.record({
    command: fc.constantFrom('convert', 'import', 'verify', 'report', 'export'),
    relation: fc.constantFrom('same', 'inside', 'ancestor'),
    depth: fc.integer({ min: 1, max: 3 }),
    alias: fc.boolean(),
    detour: fc.boolean(),
  });
  let n = 0;
  await fc.assert(
    fc.asyncProperty(layout, async (l) => {
      n++;
      const dir = path.join(w, 'cases', `prop-${n}`);
      mkdirSync(dir);
      // The input folder, `depth` levels down, and an alias for it.
      const deep = path.join(dir, ...Array.from({ length: l.depth }, (_, i) => `d${i}`));
      mkdirSync(deep, { recursive: true });
      const aliasOf = (p: string) => {
        if (!l.alias) return p;
        const link = path.join(dir, `alias-${path.basename(p)}`);
        symlinkSync(p, link);
        return link;
      };
      const spell = (p: string) => (l.detour ? path.join(path.dirname(p), 'x', '..', path.basename(p)) : p);
      if (l.detour) mkdirSync(path.join(path.dirname(deep), 'x'), { recursive: true });
      let args: string[];
      if (l.command === 'convert') {
        // the model sits in the folder convert would write: <out>/<dataset>/lfcW1A1/model.npz
        const target = path.join(deep, 'fashion-mnist', 'lfcW1A1');
        mkdirSync(target, { recursive: true });
        copyFileSync(path.join(w, 'model.npz'), path.join(target, 'model.npz'));
        const out = l.relation === 'same' ? deep : l.relation === 'inside' ? deep : path.dirname(deep);
        if (l.relation !== 'same') mkdirSync(path.join(out, 'fashion-mnist', 'lfcW1A1'), { recursive: true });
        args = [
          'convert',
          path.join(target, 'model.npz'),
          '--out',
          spell(aliasOf(l.relation === 'ancestor' ? deep : out)),
          '--force',
        ];
      } else if (l.command === 'import') {
        cpSync(path.join(w, 'src'), path.join(deep, 'src'), { recursive: true });
        const src = path.join(deep, 'src');
        const out =
          l.relation === 'same' ? src : l.relation === 'inside' ? path.join(src, 'cat', 'out') : deep;
        args = ['dataset', 'import', src, '--name', 'x', '--out', spell(aliasOf(out)), '--force'];
      } else if (l.command === 'verify') {
        copyParams(deep);
        const params = path.join(deep, 'params', 'fashion-mnist', 'lfcW1A1');
        const out =
          l.relation === 'same'
            ? path.join(w, 'labels.gz')
            : l.relation === 'inside'
              ? path.join(params, 'p.txt')
              : params;
        args = verifyArgs(params, '--predictions', spell(aliasOf(out)));
      } else if (l.command === 'report') {
        cpSync(path.join(w, 'run'), path.join(deep, 'run'), { recursive: true });
        const run = path.join(deep, 'run');
        const out =
          l.relation === 'same' ? run : l.relation === 'inside' ? path.join(run, 'progress.jsonl') : deep;
        args = ['report', 'run-1', '--local', run, '--out', spell(aliasOf(out))];
      } else {
        cpSync(path.join(w, 'ds'), path.join(deep, 'ds'), { recursive: true });
        const ds = path.join(deep, 'ds');
        const out = l.relation === 'same' ? ds : l.relation === 'inside' ? path.join(ds, 'test') : deep;
        args = ['dataset', 'export-test', 'pets', '--from', ds, '--out', spell(aliasOf(out)), '--force'];
      }
      const before = snapshot(w);
      const r = await runInProcess(args, w);
      counts.property++;
      const problems = failureProblems(r, /overlap an input|refusing to replace|already exists|is a folder/);
      const changed = changes(before, snapshot(w));
      if (problems.length || changed.length)
        throw new Error(
          `${JSON.stringify(l)} ${args.join(' ')}: ${[...problems, ...changed].join('; ')}: ${r.stderr}`,
        );
    }),
    { numRuns: 40, seed: 14 },
  );
});

describe('with the real binary: permissions, full and read-only disks, a mount point, pipes, crashes', () => {
  // A private mount namespace: the tmpfs exists only for this script (the machine's mounts are untouched).
  const unshare = (script: string) =>
    runBinary([], { cwd: w, shell: script, wrap: ['unshare', '-m', '--propagation', 'private'] });

  test('EACCES (an unprivileged user): unreadable model, unwritable --out, unreadable class folder', async () => {
    const d = path.join(w, 'cases', 'perm');
    mkdirSync(d);
    chmodSync(d, 0o755);
    copyFileSync(path.join(w, 'model.npz'), path.join(d, 'secret.npz'));
    chmodSync(path.join(d, 'secret.npz'), 0o600);
    mkdirSync(path.join(d, 'locked'));
    chmodSync(path.join(d, 'locked'), 0o755); // root's: nobody may not write in it
    cpSync(path.join(w, 'src'), path.join(d, 'src'), { recursive: true });
    chmodSync(path.join(d, 'src', 'dog'), 0o700);
    const before = snapshot(w);
    const cases: Array<[string[], RegExp]> = [
      [['convert', `${d}/secret.npz`, '--out', `${d}/o`], /secret\.npz: permission denied \(EACCES\)/],
      [
        ['convert', 'model.npz', '--out', `${d}/locked`],
        /cannot write --out: .*locked\/fashion-mnist\/lfcW1A1: permission denied \(EACCES\)/,
      ],
      [
        verifyArgs(P, '--predictions', `${d}/locked/p.txt`),
        /cannot write --predictions: .*locked\/p\.txt: permission denied \(EACCES\)/,
      ],
      [
        ['dataset', 'import', `${d}/src`, '--name', 'x', '--out', '/tmp/bnn-safety-never'],
        /cannot read the class folder: .*src\/dog: permission denied \(EACCES\)/,
      ],
    ];
    const broken: string[] = [];
    for (const [args, message] of cases) {
      const r = await runBinary(args, { cwd: w, uid: NOBODY, gid: NOBODY });
      counts.binary++;
      const p = failureProblems(r, message);
      if (p.length) broken.push(`${args.join(' ')}: ${p.join('; ')}: ${r.stderr}`);
    }
    expect(broken).toEqual([]);
    expect(changes(before, snapshot(w))).toEqual([]);
  });

  test('ENOSPC: a full disk leaves the previous param folder exactly as it was and no temporary; EROFS: one line', async () => {
    const d = path.join(w, 'cases', 'disk');
    mkdirSync(path.join(d, 'mnt'), { recursive: true });
    const list = path.join(d, 'after.txt');
    // 2 MiB: one param folder (289 files, ~1.2 MB in tmpfs pages) fits, a second one beside it does not.
    const r = await unshare(`
      mount -t tmpfs -o size=2m tmpfs ${d}/mnt
      $BNN convert model.npz --out ${d}/mnt/params > /dev/null
      sha256sum ${d}/mnt/params/fashion-mnist/lfcW1A1/* | sha256sum > ${d}/first.sum
      set +e
      $BNN convert model.npz --out ${d}/mnt/params --force --classes classes.txt 2> ${d}/enospc.err; echo "enospc rc=$?" >> ${d}/rc.txt
      sha256sum ${d}/mnt/params/fashion-mnist/lfcW1A1/* | sha256sum > ${d}/second.sum
      (cd ${d}/mnt && find . | sort) > ${list}
      mount -o remount,ro ${d}/mnt
      $BNN convert model.npz --out ${d}/mnt/other 2> ${d}/erofs.err; echo "erofs rc=$?" >> ${d}/rc.txt
    `);
    counts.binary += 3;
    expect(r.stderr).toBe('');
    const read = (f: string) => require('node:fs').readFileSync(path.join(d, f), 'utf8') as string;
    expect(read('rc.txt')).toMatch(/^enospc rc=2\nerofs rc=2\n$/);
    expect(
      failureProblems(
        { status: 2, stdout: '', stderr: read('enospc.err') },
        /cannot write --out: .*mnt\/params\/fashion-mnist\/lfcW1A1: no space left on the device \(ENOSPC\); free some space/,
      ),
    ).toEqual([]);
    expect(
      failureProblems(
        { status: 2, stdout: '', stderr: read('erofs.err') },
        /cannot write --out: .*mnt\/other\/fashion-mnist\/lfcW1A1: read-only file system \(EROFS\); choose a writable location/,
      ),
    ).toEqual([]);
    expect(read('second.sum')).toBe(read('first.sum'));
    // Only the first folder: no temporary, no half-written second copy.
    expect(
      read('after.txt')
        .trim()
        .split('\n')
        .filter((l) => !/lfcW1A1\/.+/.test(l)),
    ).toEqual(['.', './params', './params/fashion-mnist', './params/fashion-mnist/lfcW1A1']);
  });

  test('EBUSY: --force onto a mount point is one line, and the mount stays', async () => {
    const d = path.join(w, 'cases', 'busy');
    mkdirSync(path.join(d, 'mnt'), { recursive: true });
    const r = await unshare(`
      mount -t tmpfs -o size=4m tmpfs ${d}/mnt
      set +e
      $BNN dataset import src --name x --out ${d}/mnt --force 2> ${d}/err.txt; echo "rc=$?" > ${d}/rc.txt
      mountpoint -q ${d}/mnt && echo mounted >> ${d}/rc.txt
      ls -A ${d}/mnt | wc -l >> ${d}/rc.txt
    `);
    counts.binary++;
    expect(r.stderr).toBe('');
    const read = (f: string) => require('node:fs').readFileSync(path.join(d, f), 'utf8') as string;
    expect(read('rc.txt')).toBe('rc=2\nmounted\n0\n');
    expect(
      failureProblems(
        { status: 2, stdout: '', stderr: read('err.txt') },
        /mnt: is busy \(in use, or a mount point\) \(EBUSY\)/,
      ),
    ).toEqual([]);
    expect(readdirSync(d).sort()).toEqual(['err.txt', 'mnt', 'rc.txt']);
  });

  test('EPIPE: `verify | head -1` ends quietly, exit 0, after --predictions is written', async () => {
    const d = path.join(w, 'cases', 'pipe');
    mkdirSync(d);
    const r = await runBinary([], {
      cwd: w,
      shell: `set -o pipefail; $BNN verify ${P} --images images.gz --labels labels.gz --predictions ${d}/p.txt | head -c 10; echo " rc=$?"`,
    });
    counts.binary++;
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^board rule rc=0\n$/);
    expect(require('node:fs').readFileSync(path.join(d, 'p.txt'), 'utf8').split('\n')).toHaveLength(51);
  });

  test('SIGINT or SIGTERM in the middle of a write: the previous output stays as it was, no temporary, exit 128+n', async () => {
    const d = path.join(w, 'cases', 'signal');
    mkdirSync(d);
    const target = path.join(d, 'fashion-mnist', 'lfcW1A1');
    const script = path.join(__dirname, 'support', 'interrupted-write.ts');
    const run = (signal: string, after: number) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = require('node:child_process').spawn(
          process.execPath,
          ['--require', require.resolve('tsx/cjs'), script, target, signal, String(after)],
          { cwd: w },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => {
          stdout += b;
        });
        child.stderr.on('data', (b: Buffer) => {
          stderr += b;
        });
        child.on('close', (status: number | null) => resolve({ status, stdout, stderr }));
      });
    const first = await run('SIGTERM', -1); // no signal: the previous output
    expect(first).toMatchObject({ status: 0, stdout: 'finished\n' });
    const before = snapshot(d);
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGINT', 130],
    ] as const) {
      for (const after of [1, 120, 199]) {
        const r = await run(signal, after);
        counts.binary++;
        expect([r.status, r.stdout, r.stderr.trim()]).toEqual([
          code,
          '',
          `interrupted (${signal}): nothing was changed`,
        ]);
        expect(changes(before, snapshot(d))).toEqual([]);
      }
    }
  });

  test('temporaries a killed process left are removed by the next write; modes are 0755/0644 minus the umask', async () => {
    const d = path.join(w, 'cases', 'crash');
    mkdirSync(path.join(d, 'out', 'fashion-mnist'), { recursive: true });
    // What `kill -9` during a write leaves: a temporary sibling named with a process id that is gone.
    const stale = path.join(d, 'out', 'fashion-mnist', '.lfcW1A1.bnn-tmp-999999-deadbeef');
    mkdirSync(stale);
    writeFileSync(path.join(stale, '0-0-weights.bin'), 'half');
    const r = await runBinary([], {
      cwd: w,
      shell: `umask 077; $BNN convert model.npz --out ${d}/out > /dev/null`,
    });
    counts.binary++;
    expect(r.stderr).toBe('');
    expect(readdirSync(path.join(d, 'out', 'fashion-mnist'))).toEqual(['lfcW1A1']);
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(path.join(d, 'out', 'fashion-mnist', 'lfcW1A1'))).toBe('700');
    expect(mode(path.join(d, 'out', 'fashion-mnist', 'lfcW1A1', 'classes.txt'))).toBe('600');
    const r2 = await runBinary([], {
      cwd: w,
      shell: `umask 022; $BNN convert model.npz --out ${d}/out2 > /dev/null`,
    });
    counts.binary++;
    expect(r2.stderr).toBe('');
    for (const p of [`${d}/out2`, `${d}/out2/fashion-mnist`, `${d}/out2/fashion-mnist/lfcW1A1`])
      expect(mode(p)).toBe('755');
    expect(mode(`${d}/out2/fashion-mnist/lfcW1A1/3-0-thres.bin`)).toBe('644');
  });
});
