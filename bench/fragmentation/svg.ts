/**
 * A hand-written SVG line chart: a grid of panels sharing one x axis (steps) and one legend.
 * No dependencies; the output is a self-contained file any browser shows.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  /** SVG stroke-dasharray, to tell overlapping lines apart. */
  readonly dash?: string;
  /** Stroke width (default 2): a wide line under thin ones keeps both visible where they meet. */
  readonly width?: number;
  readonly points: readonly (readonly [x: number, y: number])[];
}

export interface Panel {
  readonly title: string;
  readonly series: readonly Series[];
  /** Axis bounds; by default 0 .. the largest value (nicely rounded). */
  readonly yMin?: number;
  readonly yMax?: number;
  readonly formatY?: (y: number) => string;
}

export interface Chart {
  readonly title: string;
  readonly subtitle: string;
  readonly xLabel: string;
  readonly panels: readonly Panel[];
  readonly columns: number;
}

const PANEL_W = 460;
const PANEL_H = 250;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 40 };
const HEADER_H = 78;

export function renderChart(chart: Chart): string {
  const rows = Math.ceil(chart.panels.length / chart.columns);
  const width = chart.columns * PANEL_W;
  const height = HEADER_H + rows * PANEL_H;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(chart.title)}</text>`,
    `<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">${escape(chart.subtitle)}</text>`,
    legend(chart.panels[0]?.series ?? [], width),
  ];
  chart.panels.forEach((panel, i) => {
    const x0 = (i % chart.columns) * PANEL_W;
    const y0 = HEADER_H + Math.floor(i / chart.columns) * PANEL_H;
    parts.push(renderPanel(panel, x0, y0, chart.xLabel));
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function legend(series: readonly Series[], width: number): string {
  const itemW = 150;
  const start = width / 2 - (series.length * itemW) / 2;
  return series
    .map((s, i) => {
      const x = start + i * itemW;
      return `<line x1="${x}" y1="58" x2="${x + 28}" y2="58" stroke="${s.color}" stroke-width="3"${dashAttr(s)}/><text x="${x + 34}" y="62">${escape(s.name)}</text>`;
    })
    .join("\n");
}

function renderPanel(panel: Panel, x0: number, y0: number, xLabel: string): string {
  const left = x0 + MARGIN.left;
  const right = x0 + PANEL_W - MARGIN.right;
  const top = y0 + MARGIN.top;
  const bottom = y0 + PANEL_H - MARGIN.bottom;
  const all = panel.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map(([x]) => x));
  const yMin = panel.yMin ?? 0;
  const yMaxData = Math.max(...all.map(([, y]) => y), yMin);
  const yStep = niceStep(((panel.yMax ?? yMaxData) - yMin) / 4 || 1);
  const yMax = panel.yMax ?? Math.max(yMin + yStep, Math.ceil(yMaxData / yStep) * yStep);
  const xStep = niceStep(xMax / 5);
  const sx = (x: number): number => left + (x / xMax) * (right - left);
  const sy = (y: number): number => bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top);
  const fmt = panel.formatY ?? ((y: number) => formatNumber(y));
  const parts: string[] = [`<text x="${(left + right) / 2}" y="${y0 + 16}" text-anchor="middle" font-size="12" font-weight="bold">${escape(panel.title)}</text>`];
  for (let y = yMin; y <= yMax + yStep / 1e6; y += yStep) {
    parts.push(`<line x1="${left}" y1="${sy(y).toFixed(1)}" x2="${right}" y2="${sy(y).toFixed(1)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${escape(fmt(y))}</text>`);
  }
  for (let x = 0; x <= xMax + xStep / 1e6; x += xStep) {
    parts.push(`<line x1="${sx(x).toFixed(1)}" y1="${bottom}" x2="${sx(x).toFixed(1)}" y2="${bottom + 4}" stroke="#333"/>`);
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${formatNumber(x)}</text>`);
  }
  parts.push(`<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#555">${escape(xLabel)}</text>`);
  parts.push(`<polyline points="${left},${top} ${left},${bottom} ${right},${bottom}" fill="none" stroke="#333"/>`);
  for (const s of panel.series) {
    const points = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(Math.min(yMax, Math.max(yMin, y))).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dashAttr(s)}><title>${escape(s.name)}</title></polyline>`);
  }
  return parts.join("\n");
}

function dashAttr(s: Series): string {
  return s.dash === undefined ? "" : ` stroke-dasharray="${s.dash}"`;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function formatNumber(n: number): string {
  if (Math.abs(n) >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (Math.abs(n) >= 1e4) return `${Number((n / 1e3).toPrecision(3))}k`;
  return String(Number(n.toPrecision(3)));
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
