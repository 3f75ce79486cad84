/**
 * Real training on CPU (issue 8): the project's training entry point (scripts/instance/bnn_train) with the pinned
 * Theano/Lasagne/BNN-PYNQ sources, built by scripts/dev/cpu-env.sh, on the real Fashion-MNIST files. No shim of Theano.
 * Three short runs of 2 epochs on 2,000 training images: an uninterrupted one, and one stopped by SIGTERM after epoch 1,
 * restarted, stopped again in the middle of epoch 2 and restarted, which must end byte-identical. Then the project's
 * CLI converts and verifies the model on the 10,000 test images.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { must } from '../../lib/defined';
import { runCli, SHARED_DATA } from '../support/cli';
import { npzHeaders } from './npz';
import {
  compileSeconds,
  cpuEnv,
  cpuSeconds,
  explain,
  PROGRESS_FIELDS as FIELDS,
  MINUTES,
  PYTHON,
  progressLines,
  type Run,
  train as runTrainer,
  sha256,
  withoutTimes,
} from './trainer';

const FASHION = '/usr/share/datasets/fashion-mnist';
const RUN_ARGS = ['--dataset', 'fashion-mnist', '--epochs', '2', '--limit-train', '2000', '--seed', '0'];

let work: string;
let env: NodeJS.ProcessEnv;

function train(
  runDir: string,
  runId: string,
  extra: string[] = [],
  onStdout?: Parameters<typeof runTrainer>[2],
) {
  return runTrainer(
    env,
    ['--data-dir', FASHION, '--run-dir', runDir, '--run-id', runId, ...RUN_ARGS, ...extra],
    onStdout,
  );
}

beforeAll(() => {
  // The real Fashion-MNIST files, checked by the SHA-256 of their decompressed bytes (the Debian package recompressed them).
  const sums = new Map(
    readFileSync(path.join(SHARED_DATA, 'dataset-checksums.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.split(/\s+/) as [string, string]),
  );
  for (const name of [
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    't10k-images-idx3-ubyte',
    't10k-labels-idx1-ubyte',
  ]) {
    const file = path.join(FASHION, `${name}.gz`);
    if (!existsSync(file))
      throw new Error(`${file} is missing: run scripts/dev/setup-system.sh (dataset-fashion-mnist)`);
    expect(sha256(gunzipSync(readFileSync(file)))).toBe(sums.get(`fashion-mnist/${name}`));
  }
  // The CPU environment (unpacked, patched, smoke-checked once; cached outside the repo with the Theano compile cache).
  env = cpuEnv();
  work = mkdtempSync(path.join(tmpdir(), 'bnn-train-'));
}, 10 * MINUTES);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('training on CPU with the pinned sources', () => {
  const runA = () => path.join(work, 'a');
  const runB = () => path.join(work, 'b');
  let benchA: Run;

  test(
    'the environment: pylearn2 imports (patched), the numpy shim keeps Theano constant folding alive',
    () => {
      const code = [
        'import numpy as np, theano, theano.tensor as T, pylearn2.datasets, lfc',
        // np.complex is used inside a try/except in theano/tensor/basic.py: without the shim every constant is
        // silently "not constant" and this raises NotScalarConstantError.
        'print(theano.__version__, float(T.get_scalar_constant_value(T.constant(2.5))), np.complex is complex)',
      ].join('\n');
      const r = spawnSync(PYTHON, ['-W', 'ignore', '-c', code], { env, encoding: 'utf8' });
      expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(r.stdout.trim().split('\n').pop()).toBe('1.0.5 2.5 True');
    },
    5 * MINUTES,
  );

  test(
    '2 epochs on 2,000 images: progress lines, model.npz layout, result.json, validation error < 60 %',
    async () => {
      const run = await train(runA(), 'ci-run-a');
      benchA = run;
      expect({ status: run.status, why: run.status === 0 ? '' : explain(run) }).toEqual({
        status: 0,
        why: '',
      });

      const lines = progressLines(runA());
      expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
      for (const l of lines) {
        expect(Object.keys(l).sort()).toEqual([...FIELDS].sort());
        const nullForLfc = ['val_nonpositive_rate', 'test_nonpositive_rate'];
        for (const f of nullForLfc) expect(l[f]).toBeNull();
        for (const f of FIELDS.filter((f) => !['select', 'improved', 'time', ...nullForLfc].includes(f)))
          expect(Number.isFinite(l[f] as number)).toBe(true);
        expect(l.epochs).toBe(2);
        expect(l.select).toBe('board');
      }
      expect(lines[0]?.lr as number).toBeCloseTo(0.003, 6);
      expect(lines[1]?.lr as number).toBeCloseTo(0.003 * (3e-7 / 0.003) ** 0.5, 9); // exponential decay over 2 epochs
      expect(lines[1]?.eta_seconds).toBe(0);
      // validation error after 2 epochs (BNN-PYNQ's measure, argmax); the board's rule is reported next to it
      expect(lines[1]?.val_error_argmax as number).toBeLessThan(60);

      const headers = npzHeaders(readFileSync(path.join(runA(), 'model.npz')));
      expect([...headers.keys()]).toEqual(Array.from({ length: 24 }, (_, i) => `arr_${i}`));
      const sizes = [784, 1024, 1024, 1024, 10];
      headers.forEach((h, name) => {
        const i = Number(name.slice(4));
        const layer = Math.floor(i / 6);
        const expected = i % 6 === 0 ? [sizes[layer], sizes[layer + 1]] : [sizes[layer + 1]];
        expect({ name, ...h }).toEqual({ name, descr: '<f4', fortranOrder: false, shape: expected });
      });

      const result = JSON.parse(readFileSync(path.join(runA(), 'result.json'), 'utf8'));
      const best = lines.find((l) => l.epoch === result.best_epoch);
      expect(best).toBeDefined();
      expect(result.test_accuracy_board).toBeCloseTo(100 - (best?.test_error_board as number), 6);
      expect(result.test_accuracy_argmax).toBeCloseTo(100 - (best?.test_error_argmax as number), 6);
      expect(result).toMatchObject({ status: 'completed', epochs: 2, device: 'cpu', run_id: 'ci-run-a' });
      expect(result.versions).toMatchObject({
        theano: '1.0.5',
        theano_device: 'cpu',
        theano_floatX: 'float32',
      });

      const perEpoch = lines.map((l) => l.seconds as number);
      console.log(
        `BENCH training cpu: ${(perEpoch.reduce((a, b) => a + b, 0) / perEpoch.length).toFixed(1)} s/epoch ` +
          `(2,000 training + 20,000 evaluated images; epochs ${perEpoch.map((s) => s.toFixed(1)).join(', ')} s), ` +
          `compile ${compileSeconds(run.stdout).toFixed(1)} s, whole run ${run.seconds.toFixed(1)} s wall / ` +
          `${cpuSeconds(run).toFixed(1)} s cpu (load average ${must(loadavg()[0], 'the 1-minute load average').toFixed(1)} on ${cpus().length} cores); ` +
          `val error ${lines[1]?.val_error_argmax} % argmax / ${lines[1]?.val_error_board} % board`,
      );
    },
    20 * MINUTES,
  );

  test(
    'SIGTERM after epoch 1 and in the middle of epoch 2: exit 143, resume, byte-identical model.npz',
    async () => {
      // 1. Stopped right after epoch 1's files are on disk (--on-epoch runs after them; its shell's parent is the trainer).
      const first = await train(runB(), 'ci-run-b', ['--on-epoch', 'kill -TERM $PPID']);
      expect({ status: first.status, why: first.status === 143 ? '' : explain(first) }).toEqual({
        status: 143,
        why: '',
      });
      expect(progressLines(runB()).map((l) => l.epoch)).toEqual([1]);
      expect(existsSync(path.join(runB(), 'checkpoint', 'checkpoint.npz'))).toBe(true);
      expect(existsSync(path.join(runB(), 'result.json'))).toBe(false);
      const afterEpoch1 = readFileSync(path.join(runB(), 'checkpoint', 'checkpoint.npz'));

      // 2. Restarted, then stopped in the middle of epoch 2 (as a spot interruption would): the epoch is abandoned and
      //    the checkpoint of epoch 1 stays as it was. 2 s after the resume message the run is binarizing, training or
      //    evaluating epoch 2 (an epoch takes 10 s or more here), never writing its checkpoint.
      let sent = false;
      const second = await train(runB(), 'ci-run-b', [], (out, child) => {
        if (!sent && out.includes('resuming after epoch 1 of 2')) {
          sent = true;
          setTimeout(() => child.kill('SIGTERM'), 2000);
        }
      });
      expect({ status: second.status, why: second.status === 143 ? '' : explain(second) }).toEqual({
        status: 143,
        why: '',
      });
      expect(sent).toBe(true);
      expect(second.stdout).not.toMatch(/epoch 2\/2:/);
      expect(progressLines(runB()).map((l) => l.epoch)).toEqual([1]);
      expect(sha256(readFileSync(path.join(runB(), 'checkpoint', 'checkpoint.npz')))).toBe(
        sha256(afterEpoch1),
      );

      // 3. Restarted again: resumes at epoch 2 (no epoch repeated) and ends exactly where the uninterrupted run did.
      const third = await train(runB(), 'ci-run-b');
      expect({ status: third.status, why: third.status === 0 ? '' : explain(third) }).toEqual({
        status: 0,
        why: '',
      });
      expect(third.stdout).toContain('resuming after epoch 1 of 2');
      expect(third.stdout).not.toMatch(/epoch 1\/2:/);
      expect(progressLines(runB()).map((l) => l.epoch)).toEqual([1, 2]);
      const a = readFileSync(path.join(runA(), 'model.npz'));
      const b = readFileSync(path.join(runB(), 'model.npz'));
      expect(sha256(b)).toBe(sha256(a));
      expect(progressLines(runB()).map(withoutTimes)).toEqual(progressLines(runA()).map(withoutTimes));
      console.log(
        `BENCH training resume: stop after epoch 1 ${first.seconds.toFixed(1)} s (cpu ${cpuSeconds(first).toFixed(1)} s), ` +
          `abandoned epoch 2 ${second.seconds.toFixed(1)} s (cpu ${cpuSeconds(second).toFixed(1)} s), ` +
          `resumed epoch 2 ${third.seconds.toFixed(1)} s (cpu ${cpuSeconds(third).toFixed(1)} s); ` +
          `uninterrupted run ${benchA?.seconds.toFixed(1)} s`,
      );
    },
    30 * MINUTES,
  );

  test(
    'end to end: the CLI converts model.npz; verify on the 10,000 test images matches the board-rule accuracy of training',
    async () => {
      const result = JSON.parse(readFileSync(path.join(runA(), 'result.json'), 'utf8'));
      const out = path.join(work, 'params');
      const converted = await runCli([
        'convert',
        path.join(runA(), 'model.npz'),
        '--out',
        out,
        '--dataset',
        'fashion-mnist',
      ]);
      expect({ status: converted.status, stderr: converted.stderr }).toEqual({ status: 0, stderr: '' });
      const paramDir = path.join(out, 'fashion-mnist', 'lfcW1A1');
      const verified = await runCli([
        'verify',
        paramDir,
        '--images',
        path.join(FASHION, 't10k-images-idx3-ubyte.gz'),
        '--labels',
        path.join(FASHION, 't10k-labels-idx1-ubyte.gz'),
        '--against',
        path.join(runA(), 'model.npz'),
        '--json',
      ]);
      expect({ status: verified.status, stderr: verified.stderr }).toEqual({ status: 0, stderr: '' });
      const report = JSON.parse(verified.stdout);
      expect(report.total).toBe(10000);
      const gap = Math.abs(report.accuracy - result.test_accuracy_board);
      console.log(
        `BENCH training vs board: training board-rule test accuracy ${result.test_accuracy_board} %, verifier ${report.accuracy} % ` +
          `(gap ${gap.toFixed(2)} pp); training argmax ${result.test_accuracy_argmax} %, verifier's float argmax ${report.against?.argmax?.accuracy} %`,
      );
      expect(gap).toBeLessThanOrEqual(0.1);
    },
    10 * MINUTES,
  );
});
