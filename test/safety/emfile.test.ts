import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { changes, failureProblems, runBinary, snapshot } from './harness';

/**
 * EMFILE for real: `dataset import` of 200 images with `ulimit -n` lowered in the child shell. Running out of
 * file descriptors is the machine's limit, not a bad image: one line that says to raise the limit, exit 2,
 * nothing written — never "200 unreadable or corrupt images", and never, with --skip-bad, a dataset that
 * silently leaves good images out.
 */
jest.setTimeout(120_000);

let w: string;
beforeAll(() => {
  w = mkdtempSync(path.join(os.tmpdir(), 'bnn-emfile-'));
  for (const c of ['cat', 'dog']) {
    mkdirSync(path.join(w, 'src', c), { recursive: true });
    for (let i = 0; i < 100; i++) {
      const image = new PNG({ width: 28, height: 28 });
      image.data.fill(i + (c === 'cat' ? 0 : 100));
      writeFileSync(path.join(w, 'src', c, `${i}.png`), PNG.sync.write(image));
    }
  }
});
afterAll(() => rmSync(w, { recursive: true, force: true }));

test('`ulimit -n 24; dataset import` (with and without --skip-bad): one EMFILE line, nothing written', async () => {
  // Start-up (and a bundle rebuild, if the sources changed) with the normal limit first.
  expect((await runBinary(['--version'], { cwd: w })).status).toBe(0);
  const before = snapshot(w);
  for (const extra of ['', ' --skip-bad']) {
    const r = await runBinary([], {
      cwd: w,
      shell: `ulimit -n 24; $BNN dataset import src --name pets --out ds${extra}`,
    });
    expect(
      failureProblems(
        r,
        /^error: cannot read an image: src\/(cat|dog)\/\d+\.png: too many open files \(EMFILE\); raise the limit \(ulimit -n 4096\) and retry$/,
      ),
    ).toEqual([]);
    expect(r.status).toBe(2);
    expect(changes(before, snapshot(w))).toEqual([]);
  }
  // The same images import with the usual limit: the images were never the problem.
  const ok = await runBinary([], {
    cwd: w,
    shell: '$BNN dataset import src --name pets --out ds > /dev/null',
  });
  expect([ok.status, ok.stderr]).toEqual([0, '']);
});
