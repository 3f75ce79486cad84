import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  convertOverlay,
  expectedFiles,
  loadOverlayModel,
  OVERLAYS,
  type OverlayName,
  readNpz,
} from '../../lib/bnn';
import { must } from '../../lib/defined';
import { runCli, SHARED_DATA } from '../support/cli';
import { arraysToNpz, type ModelArrays, readFolder, removeDir, tmpDir } from './helpers';

// Reads 6 MB models and starts the real CLI: slow on a busy shared machine.
jest.setTimeout(300_000);

const NPZ = path.join(SHARED_DATA, 'npz');
const PARAMS = path.join(SHARED_DATA, 'bnn-pynq', 'params');
const CASES: Array<{ network: OverlayName; npz: string; shipped: string; bins: number }> = [
  { network: 'lfcW1A1', npz: 'mnist-lfc-w1a1-reconstructed.npz', shipped: 'mnist/lfcW1A1', bins: 288 },
  { network: 'lfcW1A2', npz: 'mnist-lfcW1A2-reconstructed.npz', shipped: 'mnist/lfcW1A2', bins: 288 },
  { network: 'cnvW1A1', npz: 'cifar10-cnvW1A1-reconstructed.npz', shipped: 'cifar10/cnvW1A1', bins: 178 },
  { network: 'cnvW1A2', npz: 'cifar10-cnvW1A2-reconstructed.npz', shipped: 'cifar10/cnvW1A2', bins: 178 },
  { network: 'cnvW2A2', npz: 'cifar10-cnvW2A2-reconstructed.npz', shipped: 'cifar10/cnvW2A2', bins: 100 },
];

const differingBins = (files: ReadonlyMap<string, Uint8Array>, shipped: ReadonlyMap<string, Uint8Array>) => {
  const bins = [...shipped.keys()].filter((n) => n.endsWith('.bin'));
  return bins.filter((n) => {
    const got = files.get(n);
    return !got || !Buffer.from(got).equals(Buffer.from(must(shipped.get(n), n)));
  });
};

describe.each(CASES)(
  'convertOverlay $network on its reconstructed model',
  ({ network, npz, shipped, bins }) => {
    const bytes = new Uint8Array(readFileSync(path.join(NPZ, npz)));
    const model = loadOverlayModel(bytes, npz, network);
    const names = Array.from({ length: model.classes }, (_, i) => `class ${i}`);
    const { files, summary } = convertOverlay(model, names);
    const folder = readFolder(path.join(PARAMS, shipped));

    test(`writes the ${bins} .bin files BNN-PYNQ ships, byte for byte, plus classes.txt`, () => {
      const ours = [...files.keys()].filter((n) => n.endsWith('.bin')).sort();
      expect(ours).toHaveLength(bins);
      expect(ours).toEqual([...folder.keys()].filter((n) => n.endsWith('.bin')).sort());
      expect(differingBins(files, folder)).toEqual([]);
      expect(new TextDecoder().decode(files.get('classes.txt'))).toBe(names.join('\n'));
      // The size table the reader checks against agrees with the shipped folder too.
      for (const [name, size] of expectedFiles(OVERLAYS[network]))
        expect([name, folder.get(name)?.length]).toEqual([name, size]);
    });

    test('summary: flipped neurons per layer and, for CNV, the gamma < 0 channels feeding a max-pool', () => {
      expect(summary.fileCount).toBe(bins + 1);
      expect(summary.layers.map((l) => l.flipped)).toEqual(
        model.layers.map((l) => l.gamma.filter((g) => g < 0).length),
      );
      const pooled = OVERLAYS[network].layers.flatMap((l, i) => (l.conv?.pool ? [i] : []));
      expect(summary.poolOrder.map((p) => p.layer)).toEqual(pooled);
      for (const p of summary.poolOrder)
        expect(p.negativeGamma).toEqual(
          Array.from(model.layers[p.layer]?.gamma ?? [], (g, i) => (g < 0 ? i : -1)).filter((i) => i >= 0),
        );
    });
  },
);

test('cnvW1A1: 23 of 64 layer-1 channels have gamma < 0 (docs/overlays.md §5: 855 of 4,508 outputs differ there)', () => {
  const npz = 'cifar10-cnvW1A1-reconstructed.npz';
  const model = loadOverlayModel(new Uint8Array(readFileSync(path.join(NPZ, npz))), npz, 'cnvW1A1');
  const { summary } = convertOverlay(model, Array.from({ length: 10 }, String));
  expect(summary.poolOrder.map((p) => [p.layer, p.channels, p.negativeGamma.length])).toEqual([
    [1, 64, 23],
    [3, 128, 40],
  ]);
});

describe('convert --network through the CLI', () => {
  let dir: string;
  let base: ModelArrays;
  const CNV = path.join(NPZ, 'cifar10-cnvW2A2-reconstructed.npz');
  beforeAll(() => {
    dir = tmpDir('bnn-overlay-convert-');
    const arrays = readNpz(new Uint8Array(readFileSync(CNV)), 'cnv.npz');
    const shapes: number[][] = [];
    const data: Float64Array[] = [];
    for (let k = 0; k < arrays.size; k++) {
      const a = arrays.get(`arr_${k}`);
      shapes.push(a?.shape ?? []);
      data.push(a?.data ?? new Float64Array(0));
    }
    base = { shapes, data };
  });
  afterAll(() => removeDir(dir));

  test('cnvW2A2 with the cifar10 preset: the shipped folder byte for byte, and the pool-order report', async () => {
    const out = path.join(dir, 'ok');
    const r = await runCli(['convert', CNV, '--out', out, '--network', 'cnvW2A2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const folder = path.join(out, 'cifar10', 'cnvW2A2');
    expect(r.stdout).toContain(`wrote ${folder}/ (101 files: 100 .bin + classes.txt; cnvW2A2, 10 classes)`);
    expect(r.stdout).toMatch(/pool order, layer 1: 19 of 64 channels have gamma < 0 .*MIN.*MAX/);
    expect(r.stdout).toMatch(/pool order, layer 3: 38 of 128 channels have gamma < 0/);
    const written = readFolder(folder);
    expect(differingBins(written, readFolder(path.join(PARAMS, 'cifar10', 'cnvW2A2')))).toEqual([]);
    expect(new TextDecoder().decode(written.get('classes.txt'))).toBe(
      'Airplane\nAutomobile\nBird\nCat\nDeer\nDog\nFrog\nHorse\nShip\nTruck',
    );
  });

  test('lfcW1A2 with the mnist preset: the shipped folder byte for byte, two thresholds per neuron in layers 0-2', async () => {
    const out = path.join(dir, 'lfc');
    const npz = path.join(NPZ, 'mnist-lfcW1A2-reconstructed.npz');
    const r = await runCli([
      'convert',
      npz,
      '--out',
      out,
      '--network',
      'lfcW1A2',
      '--dataset',
      'mnist',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.folder).toBe(path.join(out, 'mnist', 'lfcW1A2'));
    expect(summary.layers.map((l: { thresholdsPerNeuron: number }) => l.thresholdsPerNeuron)).toEqual([
      2, 2, 2, 1,
    ]);
    expect(summary.poolOrder).toEqual([]);
    const written = readFolder(path.join(out, 'mnist', 'lfcW1A2'));
    expect(written.size).toBe(289);
    expect(differingBins(written, readFolder(path.join(PARAMS, 'mnist', 'lfcW1A2')))).toEqual([]);
  });

  const refusals: Array<[string, (m: ModelArrays) => void, RegExp, string[]?]> = [
    [
      'no --network for a CNV model',
      () => {},
      /arr_0: 4-D weights \(64 x 3 x 3 x 3\) belong to a convolutional \(CNV\) model.*pass --network cnvW1A1, cnvW1A2 or cnvW2A2/,
      [],
    ],
    [
      'an unknown --network',
      () => {},
      /--network cnvW3A3: choose one of lfcW1A1, lfcW1A2, cnvW1A1, cnvW1A2, cnvW2A2/,
      ['--network', 'cnvW3A3'],
    ],
    [
      'a CNV model as lfcW1A2',
      () => {},
      /arr_0: 4-D weights \(64, 3, 3, 3\): a convolutional \(CNV\) model, not lfcW1A2/,
      ['--network', 'lfcW1A2'],
    ],
    [
      'a missing array',
      (m) => {
        m.shapes.pop();
        m.data.pop();
      },
      /52 arrays, missing arr_52: cnvW2A2 has 9 layers \(53 arrays/,
    ],
    [
      'a wrong conv shape',
      (m) => {
        m.shapes[6] = [64, 32, 3, 3];
        m.data[6] = new Float64Array(64 * 32 * 9);
      },
      /arr_6 \(layer 1 W\): shape \(64, 32, 3, 3\), expected \(64, 64, 3, 3\) for cnvW2A2/,
    ],
    [
      'NaN',
      (m) => {
        must(m.data[12], 'm.data[12]')[5] = Number.NaN;
      },
      /arr_12 \(layer 2 W\): NaN at flat index 5: the model diverged/,
    ],
    [
      'gamma == 0',
      (m) => {
        must(m.data[3], 'm.data[3]')[7] = 0;
      },
      /arr_3 \(layer 0 gamma\): gamma == 0 at \[7\]/,
    ],
    [
      'inv_std <= 0',
      (m) => {
        must(m.data[47], 'm.data[47]')[2] = -1;
      },
      /arr_47 \(layer 7 inv_std\): inv_std <= 0 \(-1\) at \[2\]/,
    ],
    [
      '65 classes',
      (m) => {
        m.shapes[48] = [512, 65];
        m.data[48] = new Float64Array(512 * 65);
        for (const k of [49, 50, 51, 52]) {
          m.shapes[k] = [65];
          m.data[k] = new Float64Array(65).fill(1);
        }
      },
      /arr_48 \(layer 8 W\): 65 outputs: the cnvW2A2 overlay has 1 .. 64 outputs/,
    ],
    [
      'calibration for a CNV model',
      () => {},
      /--calibrate-images: last-layer calibration is for lfcW1A1 only, not cnvW2A2/,
      ['--network', 'cnvW2A2', '--calibrate-images', 'a', '--calibrate-labels', 'b'],
    ],
    [
      'a ternary weight that rounds to 2',
      (m) => {
        must(m.data[0], 'm.data[0]')[3] = 1.7;
      },
      /arr_0 \(layer 0 W\): weight 1\.7.* at flat index 3: a 2-bit \(ternary\) weight must round to -1, 0 or \+1/,
    ],
  ];
  test.each(refusals)(
    'refuses %s: one error line, exit 2, no folder',
    async (name, edit, message, extra = ['--network', 'cnvW2A2']) => {
      const m = { shapes: base.shapes.map((s) => [...s]), data: base.data.map((d) => d.slice()) };
      edit(m);
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.npz`);
      writeFileSync(file, arraysToNpz(m));
      const out = path.join(dir, `out-${path.basename(file)}`);
      const r = await runCli(['convert', file, '--out', out, ...extra]);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    },
  );
});
