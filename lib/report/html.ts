import { captures } from '../defined';
import type { EpochPoint, ProgressLog, VerifySummary } from './progress';
import { confusionMatrix, escapeXml, lineChart, type Series } from './svg';

/** Marks a report as ours: `report --out` replaces an existing file only when it carries this tag. */
export const REPORT_GENERATOR_TAG = '<meta name="generator" content="bnn-pynq report">';

export interface ReportInput {
  runId: string;
  dataset?: string;
  /** The overlay the run trained (run.json); lfcW1A1 when absent. */
  network?: string;
  state?: string;
  requestedEpochs?: number;
  progress: ProgressLog;
  verify?: VerifySummary;
  /** Class names for the confusion matrix when verify.json does not carry them. */
  classes?: string[];
  /** The dataset's preview contact sheet (PNG bytes), embedded when present. */
  previewPng?: Uint8Array;
  generatedAt: string;
}

/** What each overlay is, for the report's subtitle (C: the number of classes). */
function networkText(network: string, classes: string): string {
  const bits = (w: string, a: string) =>
    w === a ? `${w}-bit weights and activations` : `${w}-bit weights, ${a}-bit activations`;
  const m = /^(lfc|cnv)W(\d)A(\d)$/.exec(network);
  if (!m) return network;
  const [family, weightBits, activationBits] = captures(m, 3, 'the network name pattern');
  const shape =
    family === 'lfc'
      ? `784→1024→1024→1024→${classes}`
      : `32×32 RGB, 6 conv + 2 dense layers of 512 → ${classes}`;
  return `${network} (${shape}, ${bits(weightBits, activationBits)})`;
}

const BLUE = '#1f6feb';
const ORANGE = '#d9480f';
const GREY = '#555';

const pct = (v: number | undefined, d = 2) => (v === undefined ? '–' : `${v.toFixed(d)} %`);

function series(points: EpochPoint[], pick: (p: EpochPoint) => number | undefined): Array<[number, number]> {
  return points.flatMap((p) => {
    const v = pick(p);
    return v === undefined ? [] : [[p.epoch, v] as [number, number]];
  });
}

/** The facts at the top: what ran, how far, best epoch, and the board-vs-argmax gap in one sentence. */
function summary(input: ReportInput): string {
  const pts = input.progress.points;
  const last = pts.at(-1);
  const rows: Array<[string, string]> = [
    ['run', input.runId],
    ['dataset', input.dataset ?? '–'],
    ['state', input.state ?? '–'],
    [
      'epochs',
      last
        ? `${last.epoch}${(last.epochs ?? input.requestedEpochs) ? ` of ${last.epochs ?? input.requestedEpochs}` : ''}`
        : '0',
    ],
  ];
  if (last?.bestValidError !== undefined) {
    rows.push([
      'best validation error',
      `${pct(last.bestValidError)}${last.bestEpoch !== undefined ? ` (epoch ${last.bestEpoch})` : ''}`,
    ]);
  }
  const best = pts.find((p) => p.epoch === last?.bestEpoch) ?? last;
  if (best && (best.testError.board !== undefined || best.testError.argmax !== undefined)) {
    rows.push([
      'test error at that epoch',
      [
        best.testError.board !== undefined ? `${pct(best.testError.board)} board rule` : '',
        best.testError.argmax !== undefined ? `${pct(best.testError.argmax)} argmax` : '',
      ]
        .filter(Boolean)
        .join(', '),
    ]);
  }
  const seconds = pts.reduce((s, p) => s + (p.seconds ?? 0), 0);
  if (seconds > 0)
    rows.push([
      'training time',
      `${(seconds / 60).toFixed(1)} min (${(seconds / pts.length).toFixed(1)} s/epoch)`,
    ]);
  const v = input.verify;
  if (v) {
    rows.push([
      'verified board accuracy',
      `<strong>${pct(v.accuracy)}</strong>${v.correct !== undefined && v.total !== undefined ? ` (${v.correct} of ${v.total} test images, hardware-exact simulator)` : ''}`,
    ]);
    if (v.argmaxAccuracy !== undefined) rows.push(['float model, argmax', pct(v.argmaxAccuracy)]);
    if (v.agreement !== undefined)
      rows.push(['params vs float model (board rule)', `${pct(v.agreement)} of images agree`]);
    if (v.noBitFired !== undefined && v.total) {
      rows.push([
        'no output bit fired',
        `${v.noBitFired} images (${pct((100 * v.noBitFired) / v.total)}), all read as class 0 by the board${v.severalBitsFired !== undefined ? `; several bits fired: ${v.severalBitsFired}` : ''}`,
      ]);
    }
    if (v.publishDecision) rows.push(['publish', v.publishDecision]);
  }
  const body = rows
    .map(
      ([k, val]) =>
        `<tr><th>${escapeXml(k)}</th><td>${k === 'verified board accuracy' ? val : escapeXml(val)}</td></tr>`,
    )
    .join('');
  let note = '';
  if (v?.argmaxAccuracy !== undefined && v.argmaxAccuracy - v.accuracy > 0.05) {
    note = `<p class="note">The board takes the <em>highest set output bit</em> (class 0 when none fires); training reports the argmax. That decision rule alone costs ${(v.argmaxAccuracy - v.accuracy).toFixed(2)} points here: this is the accuracy to expect on the board.</p>`;
  }
  return `<table class="facts">${body}</table>${note}`;
}

function perClassTable(v: VerifySummary, classes: string[]): string {
  if (!v.perClass || v.perClass.length === 0) return '';
  const rows = v.perClass
    .map((acc, i) => {
      const w = Number.isFinite(acc) ? Math.max(0, Math.min(100, acc)) : 0;
      return `<tr><td>${i}</td><td>${escapeXml(classes[i] ?? `class ${i}`)}</td><td class="num">${Number.isFinite(acc) ? `${acc.toFixed(1)} %` : '–'}</td><td><div class="bar" style="width:${w.toFixed(1)}%"></div></td></tr>`;
    })
    .join('');
  return `<table class="perclass"><thead><tr><th>#</th><th>class</th><th>board accuracy</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** One self-contained HTML page: inline CSS and SVG, the preview as a data: URI, no scripts, no network. */
export function renderReport(input: ReportInput): string {
  const pts = input.progress.points;
  const last = pts.at(-1);
  const marker =
    last?.bestEpoch !== undefined ? { x: last.bestEpoch, label: `best (${last.bestEpoch})` } : undefined;
  const hasBoard = pts.some((p) => p.validError.board !== undefined || p.testError.board !== undefined);
  const errorSeries: Series[] = [
    { name: 'validation, board rule', color: BLUE, points: series(pts, (p) => p.validError.board) },
    {
      name: 'validation, argmax',
      color: BLUE,
      dashed: hasBoard,
      points: series(pts, (p) => p.validError.argmax),
    },
    { name: 'test, board rule', color: ORANGE, points: series(pts, (p) => p.testError.board) },
    { name: 'test, argmax', color: ORANGE, dashed: hasBoard, points: series(pts, (p) => p.testError.argmax) },
  ];
  const lossSeries: Series[] = [
    { name: 'train loss (squared hinge)', color: GREY, points: series(pts, (p) => p.trainLoss) },
  ];
  const classes = input.verify?.classes ?? input.classes ?? [];
  const v = input.verify;
  const verifySection = v
    ? `<section><h2>Verified on the test set (hardware-exact)</h2><div class="row">${
        v.confusion
          ? `<div>${confusionMatrix(v.confusion, classes, 'Confusion matrix (board rule)')}</div>`
          : ''
      }<div>${perClassTable(v, classes)}</div></div></section>`
    : `<section><h2>Verification</h2><p>No <code>verify.json</code> for this run yet: run <code>bnn-pynq convert-run ${escapeXml(input.runId)}</code>.</p></section>`;
  const preview = input.previewPng
    ? `<section><h2>Dataset preview (as imported, and as the board sees it)</h2><img alt="dataset preview" src="data:image/png;base64,${Buffer.from(input.previewPng).toString('base64')}"></section>`
    : '';
  const skipped = input.progress.skipped
    ? `<p class="note">${input.progress.skipped} line(s) of progress.jsonl could not be read and were left out.</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${REPORT_GENERATOR_TAG}<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bnn-pynq run ${escapeXml(input.runId)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
table{border-collapse:collapse}.facts th{text-align:left;font-weight:500;color:#555;padding:2px 16px 2px 0}.facts td{padding:2px 0}
.perclass td,.perclass th{padding:2px 8px;text-align:left}.perclass .num{text-align:right;font-variant-numeric:tabular-nums}
.bar{height:10px;background:#228b22;min-width:1px;width:0}.perclass td:last-child{width:160px}
.note{background:#fff8e1;border-left:3px solid #f0b400;padding:6px 10px;max-width:900px}
svg text{font-family:system-ui,sans-serif}svg .title{font-size:14px;font-weight:600}svg .tick{font-size:11px;fill:#444}
svg .label{font-size:12px;fill:#333}svg .legend{font-size:11.5px;fill:#333}svg .grid{stroke:#e6e6e6}svg .axis{stroke:#888}
svg .frame{fill:none;stroke:#999}svg .marker{stroke:#2e7d32;stroke-dasharray:3 3}svg .marker-label{font-size:11px;fill:#2e7d32}
svg .cell{stroke:#fff}svg .count{font-size:11px;fill:#222}svg .count.light{fill:#fff}svg .empty{fill:#888}
img{max-width:100%;image-rendering:pixelated}
</style></head><body>
<h1>BNN-PYNQ ${(input.network ?? 'lfcW1A1').startsWith('cnv') ? 'CNV' : 'LFC'} training run ${escapeXml(input.runId)}</h1>
<p class="sub">${escapeXml(networkText(input.network ?? 'lfcW1A1', String(classes.length || 'C')))} · report made ${escapeXml(input.generatedAt)}</p>
${summary(input)}${skipped}
<section><h2>Training curves</h2><div class="row">
<div>${lineChart(errorSeries, { title: 'Error per epoch (%)', xLabel: 'epoch', yLabel: 'error (%)', marker })}</div>
<div>${lineChart(lossSeries, { title: 'Training loss per epoch', xLabel: 'epoch', yLabel: 'loss', marker })}</div>
</div></section>
${verifySection}
${preview}
</body></html>
`;
}
