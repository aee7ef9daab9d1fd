/**
 * The training-curve picture of ELECTRA pretraining: five panels (total loss, masked-LM (generator) loss,
 * masked-LM accuracy, discriminator loss, discriminator accuracy), each against step, raw points drawn light
 * with an exponential moving average (EMA) drawn bold over them, plus a sixth cell with the legend and the
 * last values. Read from OUT/metrics.jsonl, written as OUT/training.svg and OUT/training.png.
 *
 * Hand-written SVG on purpose: no charting library renders server-side SVG on Node without a browser or a
 * canvas (native) dependency, and five line charts need only polylines, lines and text. The PNG is rendered
 * from that SVG by @resvg/resvg-js (a prebuilt binary inside its npm package; no system libraries).
 *
 * Fonts: resvg draws <text> only with a font it can load, and a fresh Debian (minbase, as a new machine has
 * it) has no fonts at all: there the PNG would come out with no text and no error. So before rendering,
 * `systemTextRenders()` renders a small <text> probe with the system fonts and looks at its pixels. When text
 * renders, the PNG is made from the SVG as written (real fonts); when it does not, the PNG is made from the
 * same picture with every label drawn as strokes of a small built-in stroke font (upper-case glyphs, lower
 * case as small capitals; digits and the punctuation that labels use), so a machine with no fonts still gets
 * a readable picture. training.svg always keeps real <text> (whatever views it, a browser, has fonts).
 */
import { readFileSync, writeFileSync, renameSync, mkdirSync, unlinkSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Resvg as ResvgClass, ResvgRenderOptions } from "@resvg/resvg-js";

/** One line of metrics.jsonl. Only `step` is needed; the five plotted keys may be missing or null (gaps). */
export interface MetricsRecord {
  step: number;
  loss?: number | null;
  generator_loss?: number | null;
  generator_accuracy?: number | null;
  discriminator_loss?: number | null;
  discriminator_accuracy?: number | null;
  [key: string]: unknown;
}

/** How labels are drawn: real SVG <text>, or paths of the built-in stroke font. */
export type TextMode = "font" | "stroke";

export interface RenderOptions {
  /** Heading over the panels (default "ELECTRA pretraining"). */
  title?: string;
  /** "font" (default): SVG <text>; "stroke": labels drawn as paths of the built-in stroke font. */
  textMode?: TextMode;
  /** At most this many points drawn per polyline series (default 2000). */
  maxPoints?: number;
}

export interface WriteOptions {
  title?: string;
  /** "auto" (default): real fonts in the PNG when the system has them (probed), else the stroke font. */
  textMode?: TextMode | "auto";
  maxPoints?: number;
}

export interface WriteResult {
  svg: string;
  png: string;
  /** Records plotted, and lines of metrics.jsonl skipped (junk, truncated last line, no numeric step). */
  records: number;
  skipped: number;
  /** How the PNG's labels were drawn. */
  pngText: TextMode;
  pngWidth: number;
  pngHeight: number;
}

/** The five panels, in drawing order. */
export const PANELS: ReadonlyArray<{ key: string; title: string; color: string }> = [
  { key: "loss", title: "total loss", color: "#1f77b4" },
  { key: "generator_loss", title: "masked-LM loss (generator)", color: "#ff7f0e" },
  { key: "generator_accuracy", title: "masked-LM accuracy (generator)", color: "#2ca02c" },
  { key: "discriminator_loss", title: "discriminator loss", color: "#d62728" },
  { key: "discriminator_accuracy", title: "discriminator accuracy", color: "#9467bd" },
];

export const PNG_WIDTH = 1200;
const WIDTH = 1200;
const HEIGHT = 780;
const HEADER = 58;
const MARGIN = 16;
const COLS = 3;
const ROWS = 2;
const PLOT_LEFT = 62;
const PLOT_RIGHT = 16;
const PLOT_TOP = 34;
const PLOT_BOTTOM = 46;
const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

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
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      skipped++;
      continue;
    }
    const step = (obj as { step?: unknown }).step;
    if (typeof step !== "number" || !Number.isFinite(step)) {
      skipped++;
      continue;
    }
    records.push(obj as MetricsRecord);
  }
  return { records, skipped };
}

/** Read and parse a metrics.jsonl file (see parseMetricsJsonl). */
export function readMetricsJsonl(metricsJsonlPath: string): { records: MetricsRecord[]; skipped: number } {
  if (!existsSync(metricsJsonlPath)) throw new Error(`training curves: metrics file not found: ${metricsJsonlPath}`);
  let text = readFileSync(metricsJsonlPath, "utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseMetricsJsonl(text);
}

// ---------------------------------------------------------------------------------------------------------
// Series: sorting, EMA, downsampling

interface Series {
  xs: Float64Array;
  ys: Float64Array;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

/** Records with a finite step, sorted by step; a repeated step (a resumed run) keeps the last record. */
function orderRecords(records: MetricsRecord[]): MetricsRecord[] {
  let increasing = true;
  for (let i = 0; i < records.length && increasing; i++) {
    const r = records[i];
    increasing = r !== null && typeof r === "object" && Number.isFinite(r.step) && (i === 0 || r.step > records[i - 1].step);
  }
  if (increasing) return records; // the usual case: one run, logged in order
  const byStep = new Map<number, MetricsRecord>();
  for (const r of records) {
    if (r === null || typeof r !== "object") continue;
    const s = num(r.step);
    if (Number.isNaN(s)) continue;
    byStep.delete(s);
    byStep.set(s, r);
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

function seriesOf(ordered: MetricsRecord[], key: string): Series {
  const n = ordered.length;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = ordered[i].step;
    ys[i] = num(ordered[i][key]);
  }
  return { xs, ys };
}

/** EMA span (in points) for n points: a light smoothing, none below 150 points, then about n/100, at most 100. */
export function emaSpan(n: number): number {
  return Math.max(1, Math.min(100, Math.round(n / 100)));
}

/**
 * Debiased EMA (as TensorBoard's smoothing) over the finite values, alpha = 2 / (span + 1); NaN where the
 * raw value is missing, so the smooth line has the same gaps as the raw one.
 */
export function ema(ys: ArrayLike<number>, span: number): Float64Array {
  const out = new Float64Array(ys.length);
  const w = 1 - 2 / (span + 1);
  let acc = 0;
  let norm = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) {
      out[i] = NaN;
      continue;
    }
    acc = w * acc + (1 - w) * y;
    norm = w * norm + (1 - w);
    out[i] = acc / norm;
  }
  return out;
}

/**
 * Runs of consecutive finite points (split at missing values), with at most about maxPoints points in all:
 * beyond that, points are bucketed by index and each bucket keeps its minimum and maximum (in order), so
 * spikes survive; a bucket with no finite value breaks the line.
 */
export function downsample(xs: ArrayLike<number>, ys: ArrayLike<number>, maxPoints = 2000): Array<Array<[number, number]>> {
  const n = ys.length;
  const runs: Array<Array<[number, number]>> = [];
  let cur: Array<[number, number]> = [];
  const flush = (): void => {
    if (cur.length) runs.push(cur);
    cur = [];
  };
  if (n <= maxPoints) {
    for (let i = 0; i < n; i++) {
      if (Number.isFinite(ys[i])) cur.push([xs[i], ys[i]]);
      else flush();
    }
    flush();
    return runs;
  }
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets);
    const hi = Math.floor(((b + 1) * n) / buckets);
    let iMin = -1;
    let iMax = -1;
    for (let i = lo; i < hi; i++) {
      const y = ys[i];
      if (!Number.isFinite(y)) continue;
      if (iMin < 0 || y < ys[iMin]) iMin = i;
      if (iMax < 0 || y > ys[iMax]) iMax = i;
    }
    if (iMin < 0) {
      flush();
      continue;
    }
    const a = Math.min(iMin, iMax);
    const c = Math.max(iMin, iMax);
    cur.push([xs[a], ys[a]]);
    if (c !== a) cur.push([xs[c], ys[c]]);
  }
  flush();
  return runs;
}

// ---------------------------------------------------------------------------------------------------------
// Axes: nice round ticks

function niceNum(x: number, round: boolean): number {
  const e = Math.floor(Math.log10(x));
  const f = x / Math.pow(10, e);
  let nf: number;
  if (round) nf = f < 1.5 ? 1 : f < 2.25 ? 2 : f < 3.5 ? 2.5 : f < 7.5 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nf * Math.pow(10, e);
}

export interface Axis {
  min: number;
  max: number;
  step: number;
  ticks: number[];
}

/**
 * Nice round axis covering [lo, hi] with about `target` ticks. A constant or single value gets a range
 * around it (never a zero-width axis); `integer` keeps the tick spacing at 1 or more (steps).
 */
export function niceAxis(lo: number, hi: number, target = 5, integer = false): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo <= Math.abs(hi) * 1e-12 || hi === lo) {
    const pad = integer ? 1 : lo !== 0 ? Math.abs(lo) * 0.1 : 1;
    if (integer && lo >= 0) {
      hi = lo + pad;
      lo = Math.max(0, lo - pad);
    } else {
      lo -= pad;
      hi += pad;
    }
  }
  let step = niceNum(niceNum(hi - lo, false) / Math.max(1, target - 1), true);
  if (integer && step < 1) step = 1;
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const count = Math.round((max - min) / step);
  for (let i = 0; i <= count; i++) {
    const t = min + i * step;
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return { min, max: max > min ? max : min + step, step, ticks };
}

function decimalsOf(step: number): number {
  for (let d = 0; d <= 10; d++) {
    const s = step * Math.pow(10, d);
    if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, s)) return d;
  }
  return 10;
}

/**
 * A tick label: plain decimals matching the spacing; on an axis reaching 10 000 or more (axisMaxAbs) with
 * spacing of 1 000 or more, k / M suffixes (5k, 1.5M); exponents for tiny spacing or huge values.
 */
export function formatTick(v: number, step: number, axisMaxAbs = Math.abs(v)): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (step < 1e-4 || Math.max(a, axisMaxAbs) >= 1e12) return v.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
  if (Math.max(a, axisMaxAbs) >= 1e4 && step >= 1e3) {
    const [div, suf] = a >= 1e6 ? [1e6, "M"] : [1e3, "k"];
    return `${Number((v / div).toFixed(Math.min(6, decimalsOf(step / div))))}${suf}`;
  }
  return v.toFixed(Math.min(8, decimalsOf(step)));
}

/** A value in the legend: 4 significant digits, no exponent for ordinary magnitudes. */
function formatValue(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

// ---------------------------------------------------------------------------------------------------------
// Built-in stroke font (for machines with no fonts): glyphs on a 4 x 6 grid, y up, baseline 0.

type Glyph = number[][]; // strokes, each a flat list x0 y0 x1 y1 ...

const O_SHAPE = [1, 0, 0, 1, 0, 5, 1, 6, 3, 6, 4, 5, 4, 1, 3, 0, 1, 0];
const P_SHAPE = [0, 0, 0, 6, 3, 6, 4, 5, 4, 4, 3, 3, 0, 3];
const GLYPHS: Record<string, Glyph> = {
  A: [[0, 0, 0, 4, 2, 6, 4, 4, 4, 0], [0, 3, 4, 3]],
  B: [[0, 0, 0, 6, 3, 6, 4, 5, 4, 4, 3, 3, 0, 3], [3, 3, 4, 2, 4, 1, 3, 0, 0, 0]],
  C: [[4, 5, 3, 6, 1, 6, 0, 5, 0, 1, 1, 0, 3, 0, 4, 1]],
  D: [[0, 0, 0, 6, 2, 6, 4, 4, 4, 2, 2, 0, 0, 0]],
  E: [[4, 6, 0, 6, 0, 0, 4, 0], [0, 3, 3, 3]],
  F: [[4, 6, 0, 6, 0, 0], [0, 3, 3, 3]],
  G: [[4, 5, 3, 6, 1, 6, 0, 5, 0, 1, 1, 0, 3, 0, 4, 1, 4, 3, 2, 3]],
  H: [[0, 0, 0, 6], [4, 0, 4, 6], [0, 3, 4, 3]],
  I: [[1, 6, 3, 6], [2, 6, 2, 0], [1, 0, 3, 0]],
  J: [[4, 6, 4, 1, 3, 0, 1, 0, 0, 1]],
  K: [[0, 0, 0, 6], [4, 6, 0, 2], [1, 3, 4, 0]],
  L: [[0, 6, 0, 0, 4, 0]],
  M: [[0, 0, 0, 6, 2, 3, 4, 6, 4, 0]],
  N: [[0, 0, 0, 6, 4, 0, 4, 6]],
  O: [O_SHAPE],
  P: [P_SHAPE],
  Q: [O_SHAPE, [2, 2, 4, 0]],
  R: [P_SHAPE, [2, 3, 4, 0]],
  S: [[4, 5, 3, 6, 1, 6, 0, 5, 0, 4, 1, 3, 3, 3, 4, 2, 4, 1, 3, 0, 1, 0, 0, 1]],
  T: [[0, 6, 4, 6], [2, 6, 2, 0]],
  U: [[0, 6, 0, 1, 1, 0, 3, 0, 4, 1, 4, 6]],
  V: [[0, 6, 2, 0, 4, 6]],
  W: [[0, 6, 1, 0, 2, 3, 3, 0, 4, 6]],
  X: [[0, 0, 4, 6], [0, 6, 4, 0]],
  Y: [[0, 6, 2, 3, 4, 6], [2, 3, 2, 0]],
  Z: [[0, 6, 4, 6, 0, 0, 4, 0]],
  "0": [O_SHAPE, [3.5, 5, 0.5, 1]],
  "1": [[1, 5, 2, 6, 2, 0], [1, 0, 3, 0]],
  "2": [[0, 5, 1, 6, 3, 6, 4, 5, 4, 4, 0, 0, 4, 0]],
  "3": [[0, 5, 1, 6, 3, 6, 4, 5, 4, 4, 3, 3, 2, 3], [3, 3, 4, 2, 4, 1, 3, 0, 1, 0, 0, 1]],
  "4": [[3, 0, 3, 6, 0, 2, 4, 2]],
  "5": [[4, 6, 0, 6, 0, 3, 3, 3, 4, 2, 4, 1, 3, 0, 1, 0, 0, 1]],
  "6": [[4, 5, 3, 6, 1, 6, 0, 5, 0, 1, 1, 0, 3, 0, 4, 1, 4, 2, 3, 3, 0, 3]],
  "7": [[0, 6, 4, 6, 1, 0]],
  "8": [[1, 3, 0, 4, 0, 5, 1, 6, 3, 6, 4, 5, 4, 4, 3, 3, 1, 3, 0, 2, 0, 1, 1, 0, 3, 0, 4, 1, 4, 2, 3, 3]],
  "9": [[4, 3, 1, 3, 0, 4, 0, 5, 1, 6, 3, 6, 4, 5, 4, 1, 3, 0, 1, 0, 0, 1]],
  ".": [[1.8, 0, 2.2, 0, 2.2, 0.4, 1.8, 0.4, 1.8, 0]],
  ",": [[2.2, 0.4, 2.2, 0, 1.6, -1]],
  ":": [[1.8, 0, 2.2, 0, 2.2, 0.4, 1.8, 0.4, 1.8, 0], [1.8, 3.6, 2.2, 3.6, 2.2, 4, 1.8, 4, 1.8, 3.6]],
  ";": [[2.2, 0.4, 2.2, 0, 1.6, -1], [1.8, 3.6, 2.2, 3.6, 2.2, 4, 1.8, 4, 1.8, 3.6]],
  "-": [[1, 3, 3, 3]],
  "+": [[0.5, 3, 3.5, 3], [2, 1.5, 2, 4.5]],
  "=": [[0.5, 2, 3.5, 2], [0.5, 4, 3.5, 4]],
  "(": [[3, 7, 2, 6, 1.5, 4, 1.5, 2, 2, 0, 3, -1]],
  ")": [[1, 7, 2, 6, 2.5, 4, 2.5, 2, 2, 0, 1, -1]],
  "[": [[3, 7, 1.5, 7, 1.5, -1, 3, -1]],
  "]": [[1, 7, 2.5, 7, 2.5, -1, 1, -1]],
  "/": [[0, -0.5, 4, 6.5]],
  "\\": [[0, 6.5, 4, -0.5]],
  "%": [[0, 0, 4, 6], [0, 6, 1, 6, 1, 5, 0, 5, 0, 6], [3, 1, 4, 1, 4, 0, 3, 0, 3, 1]],
  _: [[0, -1, 4, -1]],
  "'": [[2, 6, 2, 4.5]],
  '"': [[1.3, 6, 1.3, 4.5], [2.7, 6, 2.7, 4.5]],
  "!": [[2, 6, 2, 2], [1.8, 0, 2.2, 0, 2.2, 0.4, 1.8, 0.4, 1.8, 0]],
  "?": [[0, 5, 1, 6, 3, 6, 4, 5, 4, 4, 2, 3, 2, 2], [1.8, 0, 2.2, 0, 2.2, 0.4, 1.8, 0.4, 1.8, 0]],
  "<": [[4, 5, 0, 3, 4, 1]],
  ">": [[0, 5, 4, 3, 0, 1]],
  "#": [[1, 0, 1.5, 6], [2.5, 0, 3, 6], [0, 2, 4, 2], [0, 4, 4, 4]],
  "*": [[2, 1.5, 2, 4.5], [0.7, 2.3, 3.3, 3.7], [0.7, 3.7, 3.3, 2.3]],
  "&": [[4, 0, 0.5, 4, 0.5, 5, 1.5, 6, 2.5, 6, 3, 5, 0, 2, 0, 1, 1, 0, 2.5, 0, 4, 2]],
  "|": [[2, 7, 2, -1]],
  "~": [[0, 3, 1, 4, 3, 2, 4, 3]],
  "^": [[0.5, 4.5, 2, 6, 3.5, 4.5]],
  "@": [[3, 2, 3, 4, 1.5, 4, 1.5, 2, 4, 2, 4, 5, 3, 6, 1, 6, 0, 5, 0, 1, 1, 0, 3.5, 0]],
  $: [[4, 5, 3, 5.5, 1, 5.5, 0, 4.5, 1, 3, 3, 3, 4, 1.5, 3, 0.5, 1, 0.5, 0, 1], [2, 6.5, 2, -0.5]],
};
const TOFU: Glyph = [[0, 0, 4, 0, 4, 6, 0, 6, 0, 0]];
const ADVANCE = 5.6; // grid units per character (glyph 4 wide + spacing)
const SMALL = 0.76; // lower case: the capital glyph at this scale (small capitals)

/** Width in pixels of `s` in the stroke font at font size `size` (cap height is 0.75 of the size). */
function strokeWidthOf(s: string, size: number): number {
  const u = size / 8;
  let w = 0;
  for (const ch of s) w += (isLower(ch) ? SMALL : 1) * ADVANCE * u;
  return Math.max(0, w - 1.6 * u);
}

function isLower(ch: string): boolean {
  return ch >= "a" && ch <= "z";
}

/** The path data of `s` in the stroke font, starting at (x, baseline y). */
function strokePath(s: string, x: number, y: number, size: number): string {
  const u = size / 8;
  const parts: string[] = [];
  let pen = x;
  for (const ch of s) {
    const scale = isLower(ch) ? SMALL : 1;
    if (ch !== " ") {
      const g = GLYPHS[ch.toUpperCase()] ?? TOFU;
      for (const stroke of g) {
        for (let i = 0; i < stroke.length; i += 2) {
          const px = pen + stroke[i] * u * scale;
          const py = y - stroke[i + 1] * u * scale;
          parts.push(`${i === 0 ? "M" : "L"}${fmt(px)} ${fmt(py)}`);
        }
      }
    }
    pen += ADVANCE * u * scale;
  }
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------------------
// SVG building

function fmt(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? "0" : String(r);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** No control characters (not allowed in XML); for the stroke font, printable ASCII only (its glyphs). */
function cleanLabel(s: string, mode: TextMode = "font"): string {
  return mode === "font" ? s.replace(/[\x00-\x1f\x7f\ufffe\uffff]|[\ud800-\udfff]/gu, " ") : s.replace(/[^\x20-\x7e]/gu, "?");
}

interface TextStyle {
  size: number;
  anchor?: "start" | "middle" | "end";
  fill?: string;
  bold?: boolean;
}

function textEl(mode: TextMode, str: string, x: number, y: number, st: TextStyle): string {
  const s = cleanLabel(str, mode);
  const fill = st.fill ?? "#333";
  const anchor = st.anchor ?? "start";
  if (mode === "font") {
    const a = anchor === "start" ? "" : ` text-anchor="${anchor}"`;
    const b = st.bold ? ` font-weight="bold"` : "";
    return `<text x="${fmt(x)}" y="${fmt(y)}" font-size="${st.size}"${a}${b} fill="${fill}">${esc(s)}</text>`;
  }
  const w = strokeWidthOf(s, st.size);
  const x0 = anchor === "middle" ? x - w / 2 : anchor === "end" ? x - w : x;
  const sw = (st.size / 10) * (st.bold ? 1.45 : 1.0);
  const d = strokePath(s, x0, y, st.size);
  if (!d) return "";
  return `<path d="${d}" fill="none" stroke="${fill}" stroke-width="${Math.round(sw * 100) / 100}" stroke-linecap="round" stroke-linejoin="round"/>`;
}

function polyline(points: Array<[number, number]>, attrs: string): string {
  return `<polyline points="${points.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(" ")}" ${attrs}/>`;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function cellBox(i: number): Box {
  const cw = (WIDTH - 2 * MARGIN) / COLS;
  const ch = (HEIGHT - HEADER - MARGIN) / ROWS;
  return { x: MARGIN + (i % COLS) * cw, y: HEADER + Math.floor(i / COLS) * ch, w: cw, h: ch };
}

function renderPanel(
  mode: TextMode,
  cell: Box,
  title: string,
  color: string,
  xAxis: Axis,
  s: Series,
  span: number,
  maxPoints: number,
): string {
  const px = cell.x + PLOT_LEFT;
  const py = cell.y + PLOT_TOP;
  const pw = cell.w - PLOT_LEFT - PLOT_RIGHT;
  const ph = cell.h - PLOT_TOP - PLOT_BOTTOM;
  let lo = Infinity;
  let hi = -Infinity;
  for (const y of s.ys) {
    if (!Number.isFinite(y)) continue;
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  const hasData = lo <= hi;
  if (hasData && hi > lo) {
    // A little air above and below the data, never across zero (a loss axis stays at 0 or above).
    const pad = (hi - lo) * 0.02;
    lo = lo >= 0 ? Math.max(0, lo - pad) : lo - pad;
    hi = hi <= 0 ? Math.min(0, hi + pad) : hi + pad;
  }
  const yAxis = hasData ? niceAxis(lo, hi, 6) : niceAxis(0, 1, 6);
  const sx = (v: number): number => px + ((v - xAxis.min) / (xAxis.max - xAxis.min)) * pw;
  const sy = (v: number): number => py + ph - ((v - yAxis.min) / (yAxis.max - yAxis.min)) * ph;

  const out: string[] = [];
  out.push(`<g class="panel" id="panel-${title.replace(/[^a-z0-9]+/gi, "-").replace(/-+$/, "")}">`);
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="${fmt(px)}" y="${fmt(py)}" width="${fmt(pw)}" height="${fmt(ph)}" fill="#ffffff" stroke="none"/>`);
  // Grid and ticks.
  const grid: string[] = [];
  const labels: string[] = [];
  for (const t of yAxis.ticks) {
    const y = sy(t);
    grid.push(`M${fmt(px)} ${fmt(y)}H${fmt(px + pw)}`);
    labels.push(textEl(mode, formatTick(t, yAxis.step, Math.max(Math.abs(yAxis.min), Math.abs(yAxis.max))), px - 7, y + 4, { size: 11, anchor: "end" }));
  }
  for (const t of xAxis.ticks) {
    const x = sx(t);
    grid.push(`M${fmt(x)} ${fmt(py)}V${fmt(py + ph)}`);
    labels.push(textEl(mode, formatTick(t, xAxis.step, Math.max(Math.abs(xAxis.min), Math.abs(xAxis.max))), x, py + ph + 17, { size: 11, anchor: "middle" }));
  }
  out.push(`<path d="${grid.join("")}" stroke="#e6e6e6" stroke-width="1" fill="none"/>`);
  const tickMarks: string[] = [];
  for (const t of yAxis.ticks) tickMarks.push(`M${fmt(px - 4)} ${fmt(sy(t))}H${fmt(px)}`);
  for (const t of xAxis.ticks) tickMarks.push(`M${fmt(sx(t))} ${fmt(py + ph)}V${fmt(py + ph + 4)}`);
  out.push(`<path d="${tickMarks.join("")}" stroke="#777" stroke-width="1" fill="none"/>`);

  // Data: raw light, EMA bold, clipped to the plot area.
  const clipId = `clip-${title.replace(/[^a-z0-9]+/gi, "-")}`;
  out.push(`<clipPath id="${clipId}"><rect x="${fmt(px)}" y="${fmt(py)}" width="${fmt(pw)}" height="${fmt(ph)}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clipId})">`);
  if (hasData) {
    const toPx = (run: Array<[number, number]>): Array<[number, number]> => run.map(([x, y]) => [sx(x), sy(y)]);
    const rawRuns = downsample(s.xs, s.ys, maxPoints);
    const smooth = span > 1;
    const rawAttrs = smooth
      ? `class="raw" fill="none" stroke="${color}" stroke-opacity="0.3" stroke-width="1" stroke-linejoin="round"`
      : `class="raw" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"`;
    for (const run of rawRuns) {
      if (run.length === 1) {
        const [cx, cy] = toPx(run)[0];
        out.push(`<circle class="point" cx="${fmt(cx)}" cy="${fmt(cy)}" r="3" fill="${color}"/>`);
      } else out.push(polyline(toPx(run), rawAttrs));
    }
    if (smooth) {
      const e = ema(s.ys, span);
      for (const run of downsample(s.xs, e, maxPoints)) {
        if (run.length > 1) out.push(polyline(toPx(run), `class="ema" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"`));
      }
    }
  }
  out.push(`</g>`);
  if (!hasData) out.push(textEl(mode, "no data", px + pw / 2, py + ph / 2 + 5, { size: 13, anchor: "middle", fill: "#999" }));
  // Frame, labels, title.
  out.push(`<rect x="${fmt(px)}" y="${fmt(py)}" width="${fmt(pw)}" height="${fmt(ph)}" fill="none" stroke="#777" stroke-width="1"/>`);
  out.push(...labels);
  out.push(textEl(mode, "step", px + pw / 2, py + ph + 36, { size: 12, anchor: "middle", fill: "#555" }));
  out.push(textEl(mode, title, px + pw / 2, py - 12, { size: 14, anchor: "middle", fill: "#222", bold: true }));
  out.push(`</g>`);
  return out.join("\n");
}

function renderLegend(mode: TextMode, cell: Box, ordered: MetricsRecord[], span: number): string {
  const x = cell.x + PLOT_LEFT;
  let y = cell.y + PLOT_TOP + 4;
  const out: string[] = [`<g class="legend">`];
  const first = ordered[0].step;
  const last = ordered[ordered.length - 1].step;
  const line = (str: string, opts: Partial<TextStyle> = {}): void => {
    out.push(textEl(mode, str, x, y, { size: 13, ...opts }));
    y += 21;
  };
  line(`${ordered.length} record${ordered.length === 1 ? "" : "s"}, steps ${first} to ${last}`, { bold: true, fill: "#222" });
  y += 4;
  // Raw / EMA key.
  out.push(`<path d="M${fmt(x)} ${fmt(y - 5)}h30" stroke="#444" stroke-opacity="0.3" stroke-width="1"/>`);
  out.push(textEl(mode, "raw", x + 40, y, { size: 13 }));
  y += 21;
  out.push(`<path d="M${fmt(x)} ${fmt(y - 5)}h30" stroke="#444" stroke-width="2"/>`);
  out.push(textEl(mode, span > 1 ? `EMA, span ${span} points` : "EMA: off (few points)", x + 40, y, { size: 13 }));
  y += 31;
  line(`last values (step ${last}):`, { fill: "#222", bold: true });
  for (const p of PANELS) {
    let v = NaN;
    for (let i = ordered.length - 1; i >= 0 && Number.isNaN(v); i--) v = num(ordered[i][p.key]);
    out.push(`<rect x="${fmt(x)}" y="${fmt(y - 10)}" width="10" height="10" fill="${p.color}"/>`);
    out.push(textEl(mode, `${p.title}: ${formatValue(v)}`, x + 18, y, { size: 13 }));
    y += 21;
  }
  out.push(`</g>`);
  return out.join("\n");
}

/**
 * The SVG document of the five training curves (see the file comment). Throws when no record has a
 * numeric step.
 */
export function renderTrainingCurves(records: MetricsRecord[], opts: RenderOptions = {}): string {
  const mode: TextMode = opts.textMode ?? "font";
  const maxPoints = Math.max(4, Math.floor(opts.maxPoints ?? 2000));
  const ordered = orderRecords(records);
  if (ordered.length === 0) throw new Error("training curves: no metrics records to plot (no record with a numeric step)");
  const first = ordered[0].step;
  const last = ordered[ordered.length - 1].step;
  // One step only: the point in the middle, one tick under it.
  const xAxis: Axis = first === last ? { min: first - 1, max: first + 1, step: 1, ticks: [first] } : niceAxis(first, last, 6, Number.isInteger(first) && Number.isInteger(last));
  const span = emaSpan(ordered.length);
  const title = opts.title ?? "ELECTRA pretraining";

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT_FAMILY}">`,
  );
  out.push(`<title>${esc(cleanLabel(title))}</title>`);
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#fafafa"/>`);
  out.push(textEl(mode, title, WIDTH / 2, 36, { size: 20, anchor: "middle", fill: "#111", bold: true }));
  PANELS.forEach((p, i) => {
    out.push(renderPanel(mode, cellBox(i), p.title, p.color, xAxis, seriesOf(ordered, p.key), span, maxPoints));
  });
  out.push(renderLegend(mode, cellBox(PANELS.length), ordered, span));
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------------------
// PNG rendering and writing

type ResvgModule = { Resvg: typeof ResvgClass };
let resvgModule: ResvgModule | undefined;

function loadResvg(): ResvgModule {
  if (!resvgModule) {
    try {
      resvgModule = createRequire(import.meta.url)("@resvg/resvg-js") as ResvgModule;
    } catch (e) {
      throw new Error(`training curves: cannot load @resvg/resvg-js to render the PNG: ${(e as Error).message}`);
    }
  }
  return resvgModule;
}

let textProbe: boolean | undefined;

/**
 * Whether resvg draws <text> with this machine's system fonts: renders a small probe and looks for ink.
 * False on a machine with no fonts (a fresh minimal Debian). Cached.
 */
export function systemTextRenders(): boolean {
  if (textProbe === undefined) {
    try {
      const { Resvg } = loadResvg();
      const probe =
        `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="24" font-family="${FONT_FAMILY}">` +
        `<text x="2" y="18" font-size="16" fill="#000">Ag0.5</text></svg>`;
      const img = new Resvg(probe, { font: { loadSystemFonts: true }, logLevel: "off" }).render();
      const px = img.pixels;
      let ink = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 64) ink++;
      textProbe = ink >= 20;
    } catch {
      textProbe = false;
    }
  }
  return textProbe;
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

/** Render an SVG document to PNG bytes at PNG_WIDTH pixels wide. */
export function svgToPng(svg: string, useSystemFonts = true): { png: Buffer; width: number; height: number } {
  const { Resvg } = loadResvg();
  const options: ResvgRenderOptions = { fitTo: { mode: "width", value: PNG_WIDTH }, font: { loadSystemFonts: useSystemFonts } };
  const img = new Resvg(svg, options).render();
  return { png: img.asPng(), width: img.width, height: img.height };
}

/**
 * Read metricsJsonlPath, write outDir/training.svg and outDir/training.png (each atomically: a temporary
 * file renamed into place). Junk lines are skipped and counted; no usable record is an error.
 */
export function writeTrainingCurves(metricsJsonlPath: string, outDir: string, opts: WriteOptions = {}): WriteResult {
  const { records, skipped } = readMetricsJsonl(metricsJsonlPath);
  if (records.length === 0) {
    throw new Error(
      `training curves: no metrics records in ${metricsJsonlPath}` +
        (skipped ? ` (${skipped} line${skipped === 1 ? "" : "s"} skipped: not JSON objects with a numeric step)` : " (the file is empty)"),
    );
  }
  const base = { title: opts.title, maxPoints: opts.maxPoints };
  const svg = renderTrainingCurves(records, { ...base, textMode: "font" });
  const mode = opts.textMode ?? "auto";
  const pngText: TextMode = mode === "auto" ? (systemTextRenders() ? "font" : "stroke") : mode;
  const pngSvg = pngText === "font" ? svg : renderTrainingCurves(records, { ...base, textMode: "stroke" });
  const { png, width, height } = svgToPng(pngSvg, pngText === "font");
  mkdirSync(outDir, { recursive: true });
  const svgPath = path.join(outDir, "training.svg");
  const pngPath = path.join(outDir, "training.png");
  writeAtomic(svgPath, svg);
  writeAtomic(pngPath, png);
  return { svg: svgPath, png: pngPath, records: records.length, skipped, pngText, pngWidth: width, pngHeight: height };
}
