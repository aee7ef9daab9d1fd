/**
 * The training-curve picture of ELECTRA pretraining, read from OUT/metrics.jsonl and written as
 * OUT/training.svg and OUT/training.png. Six panels against step: loss (total and the generator's masked-LM
 * loss), discriminator loss with its base rate H(replaced fraction) (the loss of a discriminator that knows
 * only how many tokens were replaced), accuracy (generator, discriminator, and the discriminator's
 * precision and recall on replaced tokens), learning rate, tokens/s and gradient norm. Noisy series are drawn
 * light with a debiased exponential moving average (EMA, as TensorBoard smooths) bold over them; each panel's
 * subtitle gives the last values.
 *
 * Why these libraries: the chart is a Vega-Lite spec (a declarative grammar with axes, ticks, legends and
 * layout done for us), compiled by `vega-lite` to Vega and drawn by a `vega` View with renderer "none" whose
 * toSVG() needs neither a browser nor a canvas. @resvg/resvg-js (a prebuilt binary inside its npm package)
 * renders that SVG to PNG with DejaVu Sans from the `dejavu-fonts-ttf` package (TrueType: resvg cannot load
 * the woff/woff2 files of the @fontsource packages) and no system fonts, so the PNG is the same on every
 * machine, a fresh one with no fonts included. package.json holds vega-lite at 6.4.x: 6.5 requires Node 22.
 */
import { readFileSync, writeFileSync, renameSync, mkdirSync, unlinkSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Resvg as ResvgClass } from "@resvg/resvg-js";
import { compile, type TopLevelSpec } from "vega-lite";
import { parse, View } from "vega";

/** One line of metrics.jsonl. Only `step` is needed; any plotted key may be missing, null or not finite. */
export interface MetricsRecord {
  step: number;
  [key: string]: unknown;
}

interface SeriesDef {
  key: string;
  label: string;
  color: string;
  /** Drawn raw (light) with an EMA over it; false: drawn as it is. */
  smooth: boolean;
  dashed?: boolean;
}

interface PanelDef {
  title: string;
  y: string;
  format: string;
  domain?: [number, number];
  /** Subtitle of a panel with several series. */
  note?: string;
  series: SeriesDef[];
}

/** The panels, in reading order (three per row). */
export const PANELS: readonly PanelDef[] = [
  { title: "loss", y: "loss (nats)", format: "~r", note: "total = generator + w × discriminator", series: [
    { key: "loss", label: "total", color: "#1f77b4", smooth: true },
    { key: "generator_loss", label: "generator (MLM)", color: "#ff7f0e", smooth: true },
  ] },
  { title: "discriminator loss", y: "loss (nats)", format: "~r", note: "base rate: H(replaced fraction)", series: [
    { key: "discriminator_loss", label: "discriminator", color: "#d62728", smooth: true },
    { key: "discriminator_base_loss", label: "base rate", color: "#7f7f7f", smooth: true, dashed: true },
  ] },
  { title: "accuracy", y: "accuracy", format: "~r", note: "precision, recall: of replaced tokens", domain: [0, 1], series: [
    { key: "generator_accuracy", label: "generator", color: "#ff7f0e", smooth: true },
    { key: "discriminator_accuracy", label: "discriminator", color: "#d62728", smooth: true },
    { key: "discriminator_precision", label: "precision", color: "#9467bd", smooth: true },
    { key: "discriminator_recall", label: "recall", color: "#2ca02c", smooth: true },
  ] },
  { title: "learning rate", y: "learning rate", format: "~e", series: [{ key: "lr", label: "lr", color: "#17becf", smooth: false }] },
  { title: "throughput", y: "tokens/s", format: "~s", series: [{ key: "tokens_per_second", label: "tokens/s", color: "#8c564b", smooth: true }] },
  { title: "gradient norm", y: "global norm", format: "~r", series: [{ key: "grad_norm", label: "grad norm", color: "#e377c2", smooth: true }] },
];

export interface RenderOptions {
  /** Heading over the panels (default "ELECTRA pretraining"). */
  title?: string;
  /** At most about this many points drawn per line (default 2000). */
  maxPoints?: number;
}

export interface WriteResult {
  svg: string;
  png: string;
  /** Records plotted, and lines of metrics.jsonl skipped (junk, truncated last line, no numeric step). */
  records: number;
  skipped: number;
  pngWidth: number;
  pngHeight: number;
}

export const PNG_WIDTH = 1600;
const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 190;
const FONT = "DejaVu Sans";
/** Axis labels with 0 written "0" (the formats would write "0e+0" or "0k"). */
const ZERO = "datum.value == 0 ? '0' : datum.label";
const FONT_FILES = ["dejavu-fonts-ttf/ttf/DejaVuSans.ttf", "dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf"];

// ---------------------------------------------------------------------------------------------------------
// Reading metrics.jsonl

/**
 * Parse metrics.jsonl text: one JSON object per line. Blank lines are ignored; lines that are not JSON
 * objects with a finite numeric `step` (junk, a truncated last line of a run that was killed) are counted in
 * `skipped`, never fatal.
 */
export function parseMetricsJsonl(text: string): { records: MetricsRecord[]; skipped: number } {
  const records: MetricsRecord[] = [];
  let skipped = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      obj = null;
    }
    const step = obj !== null && typeof obj === "object" && !Array.isArray(obj) ? (obj as { step?: unknown }).step : undefined;
    if (typeof step === "number" && Number.isFinite(step)) records.push(obj as MetricsRecord);
    else skipped++;
  }
  return { records, skipped };
}

/** Read and parse a metrics.jsonl file (see parseMetricsJsonl). */
export function readMetricsJsonl(metricsJsonlPath: string): { records: MetricsRecord[]; skipped: number } {
  if (!existsSync(metricsJsonlPath)) throw new Error(`training curves: metrics file not found: ${metricsJsonlPath}`);
  return parseMetricsJsonl(readFileSync(metricsJsonlPath, "utf8").replace(/^\ufeff/, ""));
}

// ---------------------------------------------------------------------------------------------------------
// Series: order, EMA, downsampling

/** Records sorted by step; a repeated step (a resumed run) keeps the last record logged for it. */
function orderRecords(records: readonly MetricsRecord[]): MetricsRecord[] {
  const byStep = new Map<number, MetricsRecord>();
  for (const r of records) if (Number.isFinite(r.step)) byStep.set(r.step, r);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** EMA span in points: none below 150 points, then about n/100, at most 100. */
export function emaSpan(n: number): number {
  return Math.max(1, Math.min(100, Math.round(n / 100)));
}

/** Debiased EMA over the finite values (alpha = 2 / (span + 1)); NaN where the value is missing. */
export function ema(ys: readonly number[], span: number): number[] {
  const w = 1 - 2 / (span + 1);
  let acc = 0;
  let norm = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return NaN;
    acc = w * acc + (1 - w) * y;
    norm = w * norm + (1 - w);
    return acc / norm;
  });
}

/**
 * Indices to draw of n points: all of them up to maxPoints; beyond that, buckets of consecutive points each
 * keeping its first point and the indices of its smallest and largest value, so spikes survive.
 */
export function downsample(ys: readonly number[], maxPoints: number): number[] {
  if (ys.length <= maxPoints) return ys.map((_, i) => i);
  const size = Math.ceil(ys.length / Math.max(1, Math.floor(maxPoints / 3)));
  const keep: number[] = [];
  for (let s = 0; s < ys.length; s += size) {
    let lo = s;
    let hi = s;
    for (let i = s; i < Math.min(ys.length, s + size); i++) {
      if (!(ys[i] >= ys[lo]) && Number.isFinite(ys[i])) lo = i; // NaN at lo is replaced by any number
      if (!(ys[i] <= ys[hi]) && Number.isFinite(ys[i])) hi = i;
    }
    keep.push(...new Set([s, lo, hi].sort((a, b) => a - b)));
  }
  return keep;
}

// ---------------------------------------------------------------------------------------------------------
// The Vega-Lite spec

/** A drawn point; `value` null (a missing value) breaks the line. */
interface Row {
  panel: string;
  series: string;
  layer: "raw" | "smooth";
  step: number;
  value: number | null;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

function formatLast(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

/** The Vega-Lite spec of the six panels for these records (sorted, deduplicated and downsampled here). */
export function trainingCurvesSpec(records: readonly MetricsRecord[], opts: RenderOptions = {}): TopLevelSpec {
  const ordered = orderRecords(records);
  if (ordered.length === 0) throw new Error("training curves: no metrics records with a numeric step");
  const steps = ordered.map((r) => r.step);
  const span = emaSpan(ordered.length);
  const maxPoints = opts.maxPoints ?? 2000;
  const data: Row[] = [];
  const panels = PANELS.map((p) => {
    const last = new Map<string, string>();
    const drawn = p.series.filter((s) => {
      const raw = ordered.map((r) => num(r[s.key]));
      if (!raw.some(Number.isFinite)) return false;
      const layers: Array<[Row["layer"], number[]]> = s.smooth && span > 1 ? [["raw", raw], ["smooth", ema(raw, span)]] : [["smooth", raw]];
      for (const [layer, ys] of layers)
        for (const i of downsample(ys, maxPoints))
          data.push({ panel: p.title, series: s.label, layer, step: steps[i], value: Number.isFinite(ys[i]) ? ys[i] : null });
      const finite = layers[layers.length - 1][1].filter(Number.isFinite);
      last.set(s.label, formatLast(finite[finite.length - 1]));
      return true;
    });
    // several series: a legend whose labels carry the last values; one: the last value in the subtitle
    const several = p.series.length > 1;
    const legend = { orient: "bottom" as const, direction: "horizontal" as const, title: null, columns: drawn.length > 2 ? 2 : drawn.length, labelExpr: `${JSON.stringify(Object.fromEntries([...last].map(([k, v]) => [k, `${k} ${v}`])))}[datum.label]` };
    const color = { field: "series", type: "nominal" as const, sort: null, scale: { domain: drawn.map((s) => s.label), range: drawn.map((s) => s.color) }, legend: several ? legend : null };
    const empty = drawn.length === 0; // a fixed domain, no ticks: an empty domain would be labelled Infinity
    const axis = empty ? { labels: false, ticks: false, grid: false } : { format: p.format, tickCount: 5, labelExpr: ZERO };
    const y = { field: "value", type: "quantitative" as const, title: p.y, axis, scale: p.domain || empty ? { domain: p.domain ?? [0, 1] } : { zero: false } };
    const x = { field: "step", type: "quantitative" as const, title: "step", axis: { format: "~s", tickCount: 6, labelExpr: ZERO }, scale: { domain: [steps[0], steps[steps.length - 1]], nice: false } };
    const dashed = drawn.filter((s) => s.dashed).map((s) => s.label);
    const strokeDash = { condition: { test: `indexof(${JSON.stringify(dashed)}, datum.series) >= 0`, value: [6, 3] }, value: [1, 0] };
    const line = (layer: Row["layer"], props: object) => ({
      transform: [{ filter: { field: "layer", equal: layer } }],
      mark: { type: "line" as const, point: steps.length === 1 ? { filled: true, size: 40 } : false, ...props },
      encoding: { x, y, color, ...(layer === "smooth" && dashed.length ? { strokeDash } : {}) },
    });
    const subtitle = empty ? "no data" : several ? p.note ?? "" : `last: ${[...last.values()][0]}`;
    return {
      title: { text: p.title, subtitle },
      width: PANEL_WIDTH, height: PANEL_HEIGHT,
      transform: [{ filter: { field: "panel", equal: p.title } }],
      layer: [line("raw", { opacity: 0.25, strokeWidth: 1 }), line("smooth", { strokeWidth: 2 })],
    };
  });
  const what = `${ordered.length} record${ordered.length === 1 ? "" : "s"}, steps ${steps[0]} to ${steps[steps.length - 1]}`;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: opts.title ?? "ELECTRA pretraining", subtitle: span > 1 ? `${what}; light: as logged, bold: EMA over ${span} records` : what, fontSize: 18, subtitleFontSize: 12 },
    data: { values: data },
    columns: 3,
    concat: panels,
    bounds: "flush",
    spacing: { row: 140, column: 100 },
    resolve: { scale: { color: "independent", y: "independent", x: "independent" }, legend: { color: "independent" } },
    padding: { left: 70, top: 16, right: 24, bottom: 16 },
    background: "white",
    config: {
      font: FONT,
      view: { stroke: "#ccc" },
      title: { anchor: "start", frame: "group", fontSize: 14, subtitleFontSize: 11, subtitleColor: "#555", offset: 8 },
      axisY: { labelFlush: true },
      axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal", gridColor: "#eee" },
      legend: { labelFontSize: 11, symbolType: "stroke", symbolStrokeWidth: 2, symbolOpacity: 1, columnPadding: 16, labelLimit: 240, offset: 6 },
    },
  };
}

/** The SVG document of the training curves (vega-lite → vega → SVG, no browser). */
export async function renderTrainingCurves(records: readonly MetricsRecord[], opts: RenderOptions = {}): Promise<string> {
  const view = new View(parse(compile(trainingCurvesSpec(records, opts)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

// ---------------------------------------------------------------------------------------------------------
// PNG rendering and writing

const require = createRequire(import.meta.url);
let resvg: typeof ResvgClass | undefined;

/** Render an SVG document to PNG bytes, PNG_WIDTH pixels wide, with the shipped font only. */
export function svgToPng(svg: string): { png: Buffer; width: number; height: number } {
  resvg ??= (require("@resvg/resvg-js") as { Resvg: typeof ResvgClass }).Resvg;
  const font = { fontFiles: FONT_FILES.map((f) => require.resolve(f)), loadSystemFonts: false, defaultFontFamily: FONT };
  const img = new resvg(svg, { fitTo: { mode: "width", value: PNG_WIDTH }, font, logLevel: "off" }).render();
  return { png: img.asPng(), width: img.width, height: img.height };
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw e;
  }
}

/**
 * Read metricsJsonlPath, write outDir/training.svg and outDir/training.png (each atomically: a temporary
 * file renamed into place). Junk lines are skipped and counted; no usable record is an error.
 */
export async function writeTrainingCurves(metricsJsonlPath: string, outDir: string, opts: RenderOptions = {}): Promise<WriteResult> {
  const { records, skipped } = readMetricsJsonl(metricsJsonlPath);
  if (records.length === 0) {
    throw new Error(
      `training curves: no metrics records in ${metricsJsonlPath}` +
        (skipped ? ` (${skipped} line${skipped === 1 ? "" : "s"} skipped: not JSON objects with a numeric step)` : " (the file is empty)"),
    );
  }
  const svg = await renderTrainingCurves(records, opts);
  const { png, width, height } = svgToPng(svg);
  mkdirSync(outDir, { recursive: true });
  const svgPath = path.join(outDir, "training.svg");
  const pngPath = path.join(outDir, "training.png");
  writeAtomic(svgPath, svg);
  writeAtomic(pngPath, png);
  return { svg: svgPath, png: pngPath, records: records.length, skipped, pngWidth: width, pngHeight: height };
}
