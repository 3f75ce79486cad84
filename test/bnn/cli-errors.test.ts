import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { must } from '../../lib/defined';
import { runCli } from '../support/cli';
import {
  arraysToNpz,
  FASHION_SAMPLE_DIR,
  type ModelArrays,
  npy,
  npz,
  PARAMS_DIR,
  randomLfcArrays,
  removeDir,
  tmpDir,
} from './helpers';

// Each test starts the real CLI (or reads whole datasets): slow on a busy shared machine.
jest.setTimeout(300_000);

/**
 * Every bad input gets its own run of the real CLI: a non-zero exit, one `error:` line naming the
 * file (and array) and the problem, and no output folder left behind.
 */
let dir: string;
let base: ModelArrays;
beforeAll(() => {
  dir = tmpDir('bnn-cli-errors-');
  base = randomLfcArrays(10, 11);
});
afterAll(() => removeDir(dir));

function writeModel(
  name: string,
  edit: (m: ModelArrays) => void,
  options: Parameters<typeof arraysToNpz>[1] = {},
): string {
  const m = { shapes: base.shapes.map((s) => [...s]), data: base.data.map((d) => d.slice()) };
  edit(m);
  const file = path.join(dir, name);
  writeFileSync(file, arraysToNpz(m, options));
  return file;
}

async function expectConvertError(model: string, message: RegExp, extra: string[] = []) {
  const out = path.join(dir, `out-${path.basename(model)}`);
  const r = await runCli(['convert', model, '--out', out, '--dataset', 'fashion-mnist', ...extra]);
  expect(r.status).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(message);
  expect(r.stdout).toBe('');
  // Nothing written: no dataset folder, no temporary folder.
  expect(existsSync(path.join(out, 'fashion-mnist'))).toBe(false);
  if (existsSync(out)) expect(readdirSync(out)).toEqual([]);
}

describe('convert refuses bad models', () => {
  test('not a zip', async () => {
    const f = path.join(dir, 'text.npz');
    writeFileSync(f, 'this is not a model\n');
    await expectConvertError(f, /text\.npz: not a zip\/npz file/);
  });

  test('truncated zip', async () => {
    const f = writeModel('truncated.npz', () => {});
    truncateSync(f, Math.floor(readFileSync(f).length / 2));
    await expectConvertError(f, /truncated\.npz: corrupt or truncated zip/);
  });

  test('missing arr_k', async () => {
    const f = path.join(dir, 'missing.npz');
    const entries: Record<string, Uint8Array> = {};
    base.data.forEach((d, k) => {
      if (k !== 5) entries[`arr_${k}`] = npy(must(base.shapes[k], 'base.shapes[k]'), d);
    });
    writeFileSync(f, npz(entries));
    await expectConvertError(f, /missing\.npz: missing array arr_5/);
  });

  test('wrong layer count (3 dense layers)', async () => {
    const f = path.join(dir, 'three-layers.npz');
    const entries: Record<string, Uint8Array> = {};
    for (let k = 0; k < 18; k++)
      entries[`arr_${k}`] = npy(must(base.shapes[k], 'base.shapes[k]'), must(base.data[k], 'base.data[k]'));
    writeFileSync(f, npz(entries));
    await expectConvertError(f, /three-layers\.npz: 3 layers \(18 arrays\); lfcW1A1 has 4 dense layers/);
  });

  test('wrong shape', async () => {
    const f = writeModel('shape.npz', (m) => {
      m.shapes[6] = [1024, 512];
      m.data[6] = new Float64Array(1024 * 512);
    });
    await expectConvertError(
      f,
      /shape\.npz: arr_6 \(layer 1 W\): shape \(1024, 512\), expected \(1024, 1024\)/,
    );
  });

  test('NaN', async () => {
    const f = writeModel('nan.npz', (m) => {
      must(m.data[9], 'm.data[9]')[17] = Number.NaN;
    });
    await expectConvertError(f, /nan\.npz: arr_9 \(layer 1 gamma\): NaN at \[17\]/);
  });

  test('Inf', async () => {
    const f = writeModel('inf.npz', (m) => {
      must(m.data[0], 'm.data[0]')[1024 * 3 + 2] = Number.POSITIVE_INFINITY;
    });
    await expectConvertError(f, /inf\.npz: arr_0 \(layer 0 W\): Infinity at \[3, 2\]/);
  });

  test('gamma == 0', async () => {
    const f = writeModel('gamma0.npz', (m) => {
      must(m.data[21], 'm.data[21]')[4] = 0;
    });
    await expectConvertError(f, /gamma0\.npz: arr_21 \(layer 3 gamma\): gamma == 0 at \[4\]/);
  });

  test('inv_std <= 0', async () => {
    const f = writeModel('invstd.npz', (m) => {
      must(m.data[11], 'm.data[11]')[0] = -0.5;
    });
    await expectConvertError(f, /invstd\.npz: arr_11 \(layer 1 inv_std\): inv_std <= 0 \(-0\.5\) at \[0\]/);
  });

  test('unknown dtype', async () => {
    const f = writeModel('dtype.npz', () => {}, { npy: (k) => (k === 2 ? { descr: '<i4' } : {}) });
    await expectConvertError(f, /dtype\.npz: arr_2: unsupported dtype '<i4'/);
  });

  test('a malformed Fortran-order flag (Fortran order itself is read correctly, see convert.test.ts)', async () => {
    const f = writeModel('fortran.npz', () => {}, {
      npy: (k) =>
        k === 0 ? { header: "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (784, 1024), }" } : {},
    });
    await expectConvertError(f, /fortran\.npz: arr_0: malformed \.npy header/);
  });

  test('a 4-D (CNV) weight', async () => {
    const f = writeModel('cnv.npz', (m) => {
      m.shapes[0] = [64, 1, 3, 3];
      m.data[0] = new Float64Array(64 * 9);
    });
    await expectConvertError(
      f,
      /cnv\.npz: arr_0: 4-D weights \(64 x 1 x 3 x 3\) belong to a convolutional \(CNV\) model/,
    );
  });

  test('more than 64 classes', async () => {
    const f = writeModel('c65.npz', (m) => {
      m.shapes[18] = [1024, 65];
      m.data[18] = new Float64Array(1024 * 65);
      for (let k = 19; k < 24; k++) {
        m.shapes[k] = [65];
        m.data[k] = new Float64Array(65).fill(1);
      }
    });
    await expectConvertError(
      f,
      /c65\.npz: arr_18 \(layer 3 W\): 65 outputs: the lfcW1A1 overlay has 1 \.\. 64 outputs/,
    );
  });

  test('--classes with more names than the model has outputs', async () => {
    const f = writeModel('ok.npz', () => {});
    const classes = path.join(dir, 'eleven.txt');
    writeFileSync(classes, `${Array.from({ length: 11 }, (_, i) => `name${i}`).join('\n')}\n`);
    await expectConvertError(f, /eleven\.txt: 11 class names, but .*ok\.npz has 10 outputs/, [
      '--classes',
      classes,
    ]);
  });

  test('a missing model file', async () => {
    await expectConvertError(path.join(dir, 'nope.npz'), /nope\.npz: no such file/);
  });

  test('--out that is a file', async () => {
    const f = writeModel('out-file.npz', () => {});
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli(['convert', f, '--out', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^error: --out: .*a-file\/fashion-mnist\/lfcW1A1: a part of the path is a file, not a folder; choose another --out\n$/,
    );
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  test('an existing output folder is not replaced without --force', async () => {
    const f = writeModel('twice.npz', () => {});
    const out = path.join(dir, 'twice-out');
    const first = await runCli(['convert', f, '--out', out]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/wrote .*fashion-mnist\/lfcW1A1\/ \(289 files/);
    const before = readFileSync(path.join(out, 'fashion-mnist', 'lfcW1A1', '0-0-thres.bin'));
    const second = await runCli(['convert', f, '--out', out]);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toMatch(/^error: .*fashion-mnist\/lfcW1A1 already exists; .*--force/);
    const third = await runCli(['convert', f, '--out', out, '--force']);
    expect(third.status).toBe(0);
    expect(readFileSync(path.join(out, 'fashion-mnist', 'lfcW1A1', '0-0-thres.bin')).equals(before)).toBe(
      true,
    );
    expect(readdirSync(path.join(out, 'fashion-mnist'))).toEqual(['lfcW1A1']);
  });
});

describe('verify refuses bad inputs', () => {
  const images = path.join(FASHION_SAMPLE_DIR, 't10k-images-idx3-ubyte.gz');
  const labels = path.join(FASHION_SAMPLE_DIR, 't10k-labels-idx1-ubyte.gz');

  async function expectVerifyError(args: string[], message: RegExp) {
    const predictions = path.join(dir, `pred-${Math.random()}.txt`);
    const r = await runCli(['verify', ...args, '--predictions', predictions]);
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(message);
    expect(existsSync(predictions)).toBe(false);
  }

  function paramCopy(name: string): string {
    const d = path.join(dir, name, 'lfcW1A1');
    mkdirSync(path.dirname(d), { recursive: true });
    cpSync(PARAMS_DIR, d, { recursive: true });
    return d;
  }

  test('idx with wrong magic', async () => {
    const f = path.join(dir, 'magic-idx3');
    const raw = gunzipSync(readFileSync(images));
    raw[3] = 1; // claims idx1
    writeFileSync(f, raw);
    await expectVerifyError(
      [PARAMS_DIR, '--images', f, '--labels', labels],
      /magic-idx3: wrong idx magic 00 00 08 01: expected 00 00 08 03/,
    );
  });

  test('idx whose size disagrees with its header', async () => {
    const f = path.join(dir, 'short-idx3');
    const raw = gunzipSync(readFileSync(images));
    writeFileSync(f, raw.subarray(0, raw.length - 100));
    await expectVerifyError(
      [PARAMS_DIR, '--images', f, '--labels', labels],
      /short-idx3: size disagrees with its header: header says 50 x 28 x 28 \(39216 bytes\), file has 39116 bytes/,
    );
  });

  test('image and label counts differ', async () => {
    const f = path.join(dir, 'labels-49');
    const raw = gunzipSync(readFileSync(labels));
    const cut = Buffer.from(raw.subarray(0, raw.length - 1));
    cut.writeUInt32BE(49, 4);
    writeFileSync(f, cut);
    await expectVerifyError(
      [PARAMS_DIR, '--images', images, '--labels', f],
      /labels-49: 49 labels for 50 images/,
    );
  });

  test('param folder with a missing file', async () => {
    const d = paramCopy('missing-file');
    rmSync(path.join(d, '2-17-weights.bin'));
    await expectVerifyError(
      [d, '--images', images, '--labels', labels],
      /missing-file\/lfcW1A1\/2-17-weights\.bin: missing/,
    );
  });

  test('param folder with a short file', async () => {
    const d = paramCopy('short-file');
    truncateSync(path.join(d, '1-3-thres.bin'), 100);
    await expectVerifyError(
      [d, '--images', images, '--labels', labels],
      /short-file\/lfcW1A1\/1-3-thres\.bin: 100 bytes, expected 128 for lfcW1A1 layer 1/,
    );
  });

  test('classes.txt with more names than outputs', async () => {
    const d = paramCopy('many-classes');
    writeFileSync(path.join(d, 'classes.txt'), Array.from({ length: 65 }, (_, i) => `k${i}`).join('\n'));
    await expectVerifyError(
      [d, '--images', images, '--labels', labels],
      /many-classes\/lfcW1A1\/classes\.txt: 65 class names, but the lfcW1A1 overlay has only 64 outputs/,
    );
  });

  test('a param folder that does not exist', async () => {
    await expectVerifyError(
      [path.join(dir, 'nowhere'), '--images', images, '--labels', labels],
      /nowhere: no such folder/,
    );
  });
});
