/**
 * `bnn-pynq sweep report`: one self-contained HTML page: the grid as a table (one row per run, its state and best
 * board-rule validation error), every run's validation curve (board rule) in one chart, and the chosen run.
 * Pure: the CLI gathers the input.
 */
import type { ProgressLog } from './progress';
import { escapeXml, lineChart, type Series } from './svg';

export interface SweepReportRun {
  index: number;
  runId: string;
  values: Record<string, string>;
  state: string;
  bestValidBoard?: number;
  bestEpoch?: number;
  progress: ProgressLog;
}

export interface SweepReportInput {
  sweepId: string;
  gridKeys: string[];
  runs: SweepReportRun[];
  chosen?: string;
  generatedAt: string;
}

/** Distinct colours by index (golden-angle hues), so 100 curves stay tellable apart. */
const colour = (i: number): string => `hsl(${Math.round((i * 137.508) % 360)}, 65%, 42%)`;

export function renderSweepReport(input: SweepReportInput): string {
  const e = escapeXml;
  const fmt = (v: number | undefined) => (v === undefined ? '–' : `${v.toFixed(2)} %`);
  const series: Series[] = input.runs
    .map((r) => ({
      name: `#${r.index}${r.runId === input.chosen ? ' (chosen)' : ''}`,
      color: r.runId === input.chosen ? '#000' : colour(r.index),
      dashed: r.runId !== input.chosen && input.chosen !== undefined,
      points: r.progress.points
        .filter((p) => p.validError.board !== undefined)
        .map((p): [number, number] => [p.epoch, p.validError.board as number]),
    }))
    .filter((s) => s.points.length > 0);
  const chart =
    series.length > 0
      ? lineChart(series, {
          title: 'Validation error (board rule) per epoch, every run',
          xLabel: 'epoch',
          yLabel: 'validation error (%)',
          width: 900,
          height: 480,
        })
      : '<p>No run has finished an epoch yet.</p>';
  const chosen = input.runs.find((r) => r.runId === input.chosen);
  const head = ['#', 'run', ...input.gridKeys, 'state', 'best valid err (board)', 'at epoch'];
  const rows = input.runs.map((r) => {
    const cells = [
      String(r.index),
      r.runId,
      ...input.gridKeys.map((k) => r.values[k] ?? ''),
      r.state,
      fmt(r.bestValidBoard),
      r.bestEpoch === undefined ? '–' : String(r.bestEpoch),
    ];
    return `<tr${r.runId === input.chosen ? ' class="chosen"' : ''}>${cells.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sweep ${e(input.sweepId)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}tr.chosen{background:#e6f4ea;font-weight:600}</style></head>
<body>
<h1>Sweep ${e(input.sweepId)}</h1>
<p>${input.runs.length} runs; generated ${e(input.generatedAt)}. The best run is chosen by its lowest <b>validation</b> error under the board rule (the overlay's decision rule), never by test error.</p>
<h2>Chosen run</h2>
<p>${chosen ? `${e(chosen.runId)}: ${fmt(chosen.bestValidBoard)} at epoch ${chosen.bestEpoch} (${input.gridKeys.map((k) => `${e(k)}=${e(chosen.values[k] ?? '')}`).join(', ')}). Publish it with <code>bnn-pynq sweep best ${e(input.sweepId)} --publish</code>.` : 'none yet (no run has succeeded with a board-rule validation error)'}</p>
<h2>Curves</h2>
${chart}
<h2>Grid</h2>
<table><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
</body></html>
`;
}
