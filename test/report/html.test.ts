import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runReport } from '../../lib/cli/commands/report';
import type { CloudEnv } from '../../lib/cli/env';
import { captureTerminal } from '../../lib/cli/ui/terminal';
import { realClock } from '../../lib/cloud/instance';
import { captures } from '../../lib/defined';
import { renderReport } from '../../lib/report/html';
import { parseProgress, parseVerify } from '../../lib/report/progress';
import { niceTicks } from '../../lib/report/svg';
import { runCli } from '../support/cli';
import { confusionCell, FASHION_CLASSES, fashionConfusion, progressLines, verifyJson } from './fixtures';

const RUN = '20261126-061500-fashion-mnist-a1b2';

function report(epochs = 40, withVerify = true): string {
  return renderReport({
    runId: RUN,
    dataset: 'fashion-mnist',
    state: 'succeeded',
    progress: parseProgress(progressLines(epochs).join('\n')),
    verify: withVerify ? parseVerify(verifyJson(RUN), 'verify.json') : undefined,
    generatedAt: '2026-11-26T07:00:00.000Z',
  });
}

/** The `d` of each <path> (one per plotted series), split into its points. */
const paths = (html: string) =>
  [...html.matchAll(/<path d="([^"]+)"[^>]*><title>([^<]+)<\/title>/g)].map((m) => {
    const [d, name] = captures(m, 2, 'the path pattern');
    return { name, points: d.split(/[ML]/).filter((s) => s.trim()).length };
  });

test('training curves: one line per series with a point per epoch, both decision rules, and the loss', () => {
  const html = report(40);
  expect(paths(html)).toEqual([
    { name: 'validation, board rule', points: 40 },
    { name: 'validation, argmax', points: 40 },
    { name: 'test, board rule', points: 40 },
    { name: 'test, argmax', points: 40 },
    { name: 'train loss (squared hinge)', points: 40 },
  ]);
  // the best epoch is marked on both charts
  const best = parseProgress(progressLines(40).join('\n')).points.at(-1)?.bestEpoch;
  expect(html.match(new RegExp(`best \\(${best}\\)`, 'g'))).toHaveLength(2);
});

test('confusion matrix: a cell per (true, predicted) pair with its count, and the class names', () => {
  const html = report();
  const cells = [...html.matchAll(/<rect [^>]*class="cell"><title>true ([^,]+), predicted ([^:]+): (\d+) /g)];
  expect(cells).toHaveLength(100);
  const confusion = fashionConfusion();
  for (const cell of cells) {
    const [t, p, count] = captures(cell, 3, 'the cell pattern');
    expect(Number(count)).toBe(
      confusionCell(confusion, FASHION_CLASSES.indexOf(t), FASHION_CLASSES.indexOf(p)),
    );
  }
  expect(html).toContain('>T-shirt/top<');
  expect(html).toContain('83.81 %');
  expect(html).toContain('84.65 %');
  // the gap between training's argmax and the board's rule is explained in numbers
  expect(html).toContain('costs 0.84 points');
});

test('self-contained: no scripts, no external URLs, names escaped', () => {
  const html = renderReport({
    runId: RUN,
    progress: parseProgress(''),
    verify: {
      accuracy: 50,
      confusion: [
        [1, 0],
        [0, 1],
      ],
      classes: ['<b>&', 'ok'],
    },
    generatedAt: 'now',
  });
  expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  expect(html).toContain('&lt;b&gt;&amp;');
  expect(html).not.toContain('<b>&');
  expect(html).toContain('no data yet');
});

test('without verify.json the report says how to get it', () => {
  expect(report(5, false)).toContain(`bnn-pynq convert-run ${RUN}`);
});

test('the subtitle names the overlay the run trained (lfcW1A1 when run.json predates the choice)', () => {
  const base = { runId: RUN, progress: parseProgress(progressLines(2).join('\n')), generatedAt: 'now' };
  expect(renderReport({ ...base, classes: FASHION_CLASSES, network: 'cnvW2A2' })).toContain(
    '<h1>BNN-PYNQ CNV training run 20261126-061500-fashion-mnist-a1b2</h1>\n<p class="sub">cnvW2A2 (32×32 RGB, 6 conv + 2 dense layers of 512 → 10, 2-bit weights and activations)',
  );
  expect(renderReport({ ...base, classes: FASHION_CLASSES, network: 'lfcW1A2' })).toContain(
    'lfcW1A2 (784→1024→1024→1024→10, 1-bit weights, 2-bit activations)',
  );
  expect(renderReport({ ...base, classes: FASHION_CLASSES })).toContain(
    'lfcW1A1 (784→1024→1024→1024→10, 1-bit weights and activations)',
  );
});

test('`bnn-pynq report <runId> --local <dir>` writes the HTML from a local copy of the run, without AWS', async () => {
  const top = mkdtempSync(path.join(tmpdir(), 'report-run-'));
  const dir = path.join(top, 'run');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'progress.jsonl'), `${progressLines(12, 40).join('\n')}\n`);
  writeFileSync(path.join(dir, 'verify.json'), verifyJson(RUN));
  writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ runId: RUN, dataset: 'fashion-mnist', epochs: 40 }),
  );
  writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ runId: RUN, state: 'running' }));
  const out = path.join(top, 'r.html');
  // A file the report did not write is never overwritten.
  writeFileSync(out, 'old');
  const refused = await runCli(['report', RUN, '--local', dir, '--out', out]);
  expect(refused.status).toBe(2);
  expect(refused.stderr).toBe(
    `error: refusing to overwrite ${out}: it is not a bnn-pynq report this command wrote; choose another --out or move the file away\n`,
  );
  expect(readFileSync(out, 'utf8')).toBe('old');
  rmSync(out);
  const res = await runCli(['report', RUN, '--local', dir, '--out', out]);
  expect(res.stderr).toContain('report: 12 epoch(s), verified confusion matrix');
  expect(res.status).toBe(0);
  expect(res.stdout.trim()).toBe(out);
  // A second run replaces the report the first one wrote.
  writeFileSync(path.join(dir, 'progress.jsonl'), `${progressLines(12, 40).join('\n')}\n`);
  const again = await runCli(['report', RUN, '--local', dir, '--out', out]);
  expect([again.status, again.stdout.trim()]).toEqual([0, out]);
  const html = readFileSync(out, 'utf8');
  expect(html).toContain('12 of 40');
  expect(paths(html)[0]?.points).toBe(12);
  expect(readdirSync(top).sort()).toEqual(['r.html', 'run']);
  // An output inside the run folder would overwrite its inputs (its own progress.jsonl): refused.
  const inside = await runCli(['report', RUN, '--local', dir, '--out', path.join(dir, 'progress.jsonl')]);
  expect(inside.status).toBe(2);
  expect(inside.stderr).toMatch(
    /^error: --out .*run\/progress\.jsonl lies inside --local .*run; an output must not overlap an input/,
  );
});

test('report into a folder that does not exist: one clear error', async () => {
  const top = mkdtempSync(path.join(tmpdir(), 'report-run-'));
  const dir = path.join(top, 'run');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'progress.jsonl'), `${progressLines(2).join('\n')}\n`);
  const env = {
    clients: {} as CloudEnv['clients'],
    term: captureTerminal(),
    clock: realClock,
    stackName: 'BnnPynq',
  };
  const out = path.join(top, 'no', 'r.html');
  await expect(runReport(env, RUN, { local: dir, out })).rejects.toThrow(
    `--out ${out}: folder ${path.join(top, 'no')} does not exist; create it or choose another path`,
  );
});

test('`report --local` on a folder without progress.jsonl: one clear error, nothing written', async () => {
  const top = mkdtempSync(path.join(tmpdir(), 'report-empty-'));
  const dir = path.join(top, 'run');
  mkdirSync(dir);
  const res = await runCli(['report', RUN, '--local', dir, '--out', path.join(top, 'r.html')]);
  expect(res.status).toBe(2);
  expect(res.stderr).toBe(
    `error: ${path.join(dir, 'progress.jsonl')} does not exist: --local must be a copy of runs/<runId>/ holding progress.jsonl\n`,
  );
  expect(readdirSync(top)).toEqual(['run']);
});

test('axis ticks cover the data: the highest value is never above the top tick', () => {
  const ranges: [number, number][] = [
    [0.018, 0.107],
    [13.9, 21.6],
    [0, 1],
    [5, 5],
    [-3, 250],
  ];
  for (const [min, max] of ranges) {
    const ticks = niceTicks(min, max);
    expect(ticks[0]).toBeLessThanOrEqual(min);
    expect(ticks.at(-1)).toBeGreaterThanOrEqual(max);
    expect(ticks.length).toBeLessThanOrEqual(12);
  }
});
