import { must } from '../defined';

/**
 * Inline SVG charts for the run report: a line chart (per-epoch series) and a confusion matrix.
 * Pure string building, no DOM, no external assets, so the HTML stays one self-contained file.
 */

const XML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => must(XML_ENTITIES[c], `the XML entity of ${c}`));

const fmt = (v: number): string => String(Math.round(v * 100) / 100);

/** 1-2-5 "nice" tick values covering [min, max] with about `count` ticks. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max - min < 1e-12) {
    const pad = Math.abs(max) > 0 ? Math.abs(max) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // Up to the first tick at or above max, so no point is drawn above the frame.
  for (let i = 0; i < 100; i++) {
    const v = Math.round((start + i * step) / step) * step;
    ticks.push(v);
    if (v >= max - step * 1e-9) break;
  }
  return ticks;
}

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: Array<[number, number]>;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** An x position to mark with a vertical line (e.g. the best epoch), with its label. */
  marker?: { x: number; label: string };
  /** Force the y axis to start at 0. */
  yFromZero?: boolean;
}

export function lineChart(series: Series[], o: LineChartOptions): string {
  const width = o.width ?? 560;
  const height = o.height ?? 340;
  const m = { top: 34, right: 16, bottom: 84, left: 56 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points);
  const title = `<text x="${width / 2}" y="20" text-anchor="middle" class="title">${escapeXml(o.title)}</text>`;
  if (all.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="empty">no data yet</text></svg>`;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs), 6).filter((t) => Number.isInteger(t));
  const yTicks = niceTicks(o.yFromZero ? 0 : Math.min(...ys), Math.max(...ys), 5);
  const x0 = Math.min(xTicks[0] ?? Math.min(...xs), Math.min(...xs));
  const x1 = Math.max(xTicks.at(-1) ?? Math.max(...xs), Math.max(...xs), x0 + 1);
  const y0 = must(yTicks[0], 'the first y tick');
  const y1 = must(yTicks.at(-1), 'the last y tick');
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => m.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;

  const parts: string[] = [title];
  for (const t of yTicks) {
    parts.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${fmt(sy(t))}" y2="${fmt(sy(t))}" class="grid"/>`,
      `<text x="${m.left - 6}" y="${fmt(sy(t) + 4)}" text-anchor="end" class="tick">${fmt(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    if (t < x0 || t > x1) continue;
    parts.push(
      `<line x1="${fmt(sx(t))}" x2="${fmt(sx(t))}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" class="axis"/>`,
      `<text x="${fmt(sx(t))}" y="${m.top + plotH + 18}" text-anchor="middle" class="tick">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" class="frame"/>`,
    `<text x="${m.left + plotW / 2}" y="${m.top + plotH + 36}" text-anchor="middle" class="label">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(o.yLabel)}</text>`,
  );
  if (o.marker && o.marker.x >= x0 && o.marker.x <= x1) {
    const x = fmt(sx(o.marker.x));
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + plotH}" class="marker"/>`,
      `<text x="${x}" y="${m.top - 4}" text-anchor="middle" class="marker-label">${escapeXml(o.marker.label)}</text>`,
    );
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${fmt(sx(x))} ${fmt(sy(y))}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${escapeXml(s.name)}</title></path>`,
    );
    if (s.points.length <= 60) {
      for (const [x, y] of s.points) {
        parts.push(
          `<circle cx="${fmt(sx(x))}" cy="${fmt(sy(y))}" r="2.5" fill="${s.color}"><title>${escapeXml(`${s.name}: epoch ${x}, ${fmt(y)}`)}</title></circle>`,
        );
      }
    }
  }
  // Legend under the plot: two entries per row, so long series names never run off the chart.
  const shown = series.filter((q) => q.points.length > 0);
  const colW = plotW / 2;
  shown.forEach((s, i) => {
    const lx = m.left + (i % 2) * colW;
    const ly = m.top + plotH + 50 + Math.floor(i / 2) * 16;
    parts.push(
      `<line x1="${fmt(lx)}" x2="${fmt(lx + 22)}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${fmt(lx + 27)}" y="${ly}" class="legend">${escapeXml(s.name)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.title)}">${parts.join('')}</svg>`;
}

/**
 * The confusion matrix, rows = true class, columns = predicted class. Cells are shaded by the share
 * of their row (green on the diagonal, red off it), and carry their count.
 */
export function confusionMatrix(confusion: number[][], classes: string[], title: string): string {
  const n = confusion.length;
  const cell = n <= 12 ? 44 : n <= 24 ? 24 : 14;
  const labelW = 110;
  const top = 40;
  const width = labelW + n * cell + 60; // room for the last rotated column label
  const height = top + n * cell + 100;
  const parts: string[] = [
    `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escapeXml(title)}</text>`,
    `<text x="${labelW + (n * cell) / 2}" y="${top + n * cell + 92}" text-anchor="middle" class="label">predicted class</text>`,
  ];
  for (const [r, row] of confusion.entries()) {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const name = classes[r] ?? String(r);
    parts.push(
      `<text x="${labelW - 6}" y="${top + r * cell + cell / 2 + 4}" text-anchor="end" class="tick">${escapeXml(name)}</text>`,
    );
    for (let c = 0; c < n; c++) {
      const v = row[c] ?? 0;
      const share = v / total;
      // Off-diagonal shares are small: scale them up so a 5 % confusion is visible.
      const alpha = r === c ? share : Math.min(1, share * 4);
      const fill = r === c ? `rgba(34,139,34,${fmt(alpha)})` : `rgba(200,40,40,${fmt(alpha)})`;
      const x = labelW + c * cell;
      const y = top + r * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" class="cell"><title>${escapeXml(`true ${name}, predicted ${classes[c] ?? c}: ${v} (${fmt(share * 100)} % of ${name})`)}</title></rect>`,
      );
      if (cell >= 24 && v > 0) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" class="count${alpha > 0.6 ? ' light' : ''}">${v}</text>`,
        );
      }
    }
  }
  for (let c = 0; c < n; c++) {
    const x = labelW + c * cell + cell / 2;
    const y = top + n * cell + 8;
    parts.push(
      `<text transform="translate(${x} ${y}) rotate(45)" class="tick">${escapeXml(classes[c] ?? String(c))}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(12 ${top + (n * cell) / 2}) rotate(-90)" text-anchor="middle" class="label">true class</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">${parts.join('')}</svg>`;
}
