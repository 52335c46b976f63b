// bench:scale's results as a small SVG (docs/benchmarks/scale.svg): the drill's time per GB
// against the size, and beside it raw/drill and refresh/full restore, both from 0 to 1.
// Plain text, no dependency: the same figures always give the same bytes.
import * as fs from "node:fs";
import * as path from "node:path";

/** One size of a bench:scale run. */
export interface ScalePoint {
  /** Database plus volume data, as restored. */
  gigabytes: number;
  /** The whole drill: push, prepare, restore, first query. */
  drillSeconds: number;
  drillSecondsPerGb: number;
  /** The raw copies' time over the drill's (1 would be as fast as a raw copy). */
  rawOverDrill: number;
  /** The weekly refresh's time over a full restore's, on a 1 Gbit/s link. */
  refreshOverFull: number;
}

const WIDTH = 760;
const HEIGHT = 340;
const PANEL = { width: 300, height: 200, top: 70 };
const LEFT_X = 70;
const RIGHT_X = 440;

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (value: number) => Number(value.toFixed(1)).toString();

/** The smallest 1, 2 or 5 times a power of ten at or above `max / 5`, and the axis's end, a multiple of it. */
function axis(max: number): { end: number; step: number } {
  const rough = Math.max(max, 1e-9) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return { end: Math.ceil(max / step) * step || step, step };
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${num(x)}" y="${num(y)}"${attributes ? ` ${attributes}` : ""}>${escape(content)}</text>`;
}

/** Axes, ticks and titles of a panel whose origin is (x0, PANEL.top + PANEL.height). */
function frame(x0: number, title: string, xAxis: { end: number; step: number }, yAxis: { end: number; step: number }, yLabel: string, yDecimals: number): string[] {
  const bottom = PANEL.top + PANEL.height;
  const parts = [
    text(x0 + PANEL.width / 2, PANEL.top - 14, title, 'text-anchor="middle" font-weight="bold"'),
    `<line class="axis" x1="${x0}" y1="${bottom}" x2="${x0 + PANEL.width}" y2="${bottom}" stroke="#333"/>`,
    `<line class="axis" x1="${x0}" y1="${PANEL.top}" x2="${x0}" y2="${bottom}" stroke="#333"/>`,
    text(x0 + PANEL.width / 2, bottom + 36, "size restored (GB)", 'text-anchor="middle"'),
    text(x0 - 46, PANEL.top + PANEL.height / 2, yLabel, `text-anchor="middle" transform="rotate(-90 ${x0 - 46} ${PANEL.top + PANEL.height / 2})"`),
  ];
  for (let v = 0; v <= xAxis.end + 1e-9; v += xAxis.step) {
    const x = x0 + (v / xAxis.end) * PANEL.width;
    parts.push(`<line x1="${num(x)}" y1="${bottom}" x2="${num(x)}" y2="${bottom + 5}" stroke="#333"/>`, text(x, bottom + 18, num(v), 'text-anchor="middle"'));
  }
  for (let v = 0; v <= yAxis.end + 1e-9; v += yAxis.step) {
    const y = bottom - (v / yAxis.end) * PANEL.height;
    parts.push(
      `<line x1="${x0 - 5}" y1="${num(y)}" x2="${x0 + PANEL.width}" y2="${num(y)}" stroke="${v === 0 ? "#333" : "#ddd"}"/>`,
      text(x0 - 8, y + 4, v.toFixed(yDecimals), 'text-anchor="end"'),
    );
  }
  return parts;
}

/** bench:scale's results, one point per size in each series, as a self-contained SVG document. */
export function renderScalePlot(points: readonly ScalePoint[], caption: string): string {
  if (points.length === 0) throw new Error("renderScalePlot: no sizes to plot");
  const sorted = [...points].sort((a, b) => a.gigabytes - b.gigabytes);
  const xAxis = axis(Math.max(...sorted.map((p) => p.gigabytes)));
  const perGbAxis = axis(Math.max(...sorted.map((p) => p.drillSecondsPerGb)));
  const ratioAxis = { end: 1, step: 0.2 };
  const bottom = PANEL.top + PANEL.height;
  const at = (x0: number, gigabytes: number, value: number, y: { end: number }) => ({
    x: x0 + (gigabytes / xAxis.end) * PANEL.width,
    y: bottom - (value / y.end) * PANEL.height,
  });

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escape(`bench:scale: drill time per GB, raw/drill and refresh/full restore by size (${caption})`)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(WIDTH / 2, 22, `bench:scale, ${caption}`, 'text-anchor="middle" font-size="14" font-weight="bold"'),
    ...frame(LEFT_X, "Drill: seconds per GB (whole drill)", xAxis, perGbAxis, "drill s/GB", perGbAxis.step < 1 ? 1 : 0),
    ...frame(RIGHT_X, "Raw/drill; refresh/full restore at 1 Gbit/s", xAxis, ratioAxis, "fraction", 1),
  ];

  const drill = sorted.map((p) => at(LEFT_X, p.gigabytes, p.drillSecondsPerGb, perGbAxis));
  parts.push(`<polyline fill="none" stroke="#1f77b4" points="${drill.map((c) => `${num(c.x)},${num(c.y)}`).join(" ")}"/>`);
  sorted.forEach((p, i) => {
    const c = drill[i];
    parts.push(
      `<circle class="point drill" data-gb="${p.gigabytes}" cx="${num(c.x)}" cy="${num(c.y)}" r="4" fill="#1f77b4"/>`,
      text(c.x, c.y - 9, `${p.drillSecondsPerGb.toFixed(1)} s/GB (${p.drillSeconds.toFixed(1)} s)`, 'class="label" text-anchor="middle"'),
    );
  });

  const raw = sorted.map((p) => at(RIGHT_X, p.gigabytes, p.rawOverDrill, ratioAxis));
  const refresh = sorted.map((p) => at(RIGHT_X, p.gigabytes, p.refreshOverFull, ratioAxis));
  parts.push(
    `<polyline fill="none" stroke="#2ca02c" points="${raw.map((c) => `${num(c.x)},${num(c.y)}`).join(" ")}"/>`,
    `<polyline fill="none" stroke="#d62728" points="${refresh.map((c) => `${num(c.x)},${num(c.y)}`).join(" ")}"/>`,
  );
  sorted.forEach((p, i) => {
    const r = raw[i];
    const f = refresh[i];
    parts.push(
      `<circle class="point raw-over-drill" data-gb="${p.gigabytes}" cx="${num(r.x)}" cy="${num(r.y)}" r="4" fill="#2ca02c"/>`,
      text(r.x, r.y - 9, p.rawOverDrill.toFixed(2), 'class="label" text-anchor="middle"'),
      `<rect class="point refresh-over-full" data-gb="${p.gigabytes}" x="${num(f.x - 4)}" y="${num(f.y - 4)}" width="8" height="8" fill="#d62728"/>`,
      text(f.x, f.y - 9, p.refreshOverFull.toFixed(2), 'class="label" text-anchor="middle"'),
    );
  });

  const legendY = HEIGHT - 14;
  parts.push(
    `<circle cx="${RIGHT_X}" cy="${legendY - 4}" r="4" fill="#2ca02c"/>`,
    text(RIGHT_X + 8, legendY, "raw copies / drill"),
    `<rect x="${RIGHT_X + 136}" y="${legendY - 8}" width="8" height="8" fill="#d62728"/>`,
    text(RIGHT_X + 148, legendY, "refresh / full restore"),
    text(LEFT_X, legendY, "sizes: database plus volume data, as restored"),
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}

/** Where bench:scale writes its plot, and where the committed one is. */
export const SCALE_PLOT_FILE = "docs/benchmarks/scale.svg";

/** Writes the plot of `points` to SCALE_PLOT_FILE, in this checkout. */
export function writeScalePlot(points: readonly ScalePoint[], caption: string): string {
  const file = path.join(__dirname, "..", SCALE_PLOT_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, renderScalePlot(points, caption));
  return file;
}
