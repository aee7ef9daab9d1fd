import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  renderTrainingCurves,
  writeTrainingCurves,
  parseMetricsJsonl,
  systemTextRenders,
  niceAxis,
  formatTick,
  ema,
  downsample,
  PANELS,
  type MetricsRecord,
} from "../../src/train/plot.js";

const { Resvg } = createRequire(import.meta.url)("@resvg/resvg-js") as typeof import("@resvg/resvg-js");

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), "plot-test-"));
}

/** A decaying run: losses fall, accuracies rise, a little deterministic noise. */
function decaying(n: number, stride = 10): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  for (let i = 0; i < n; i++) {
    const noise = Math.sin(i * 12.9898) * 0.5;
    const g = 8 * Math.exp(-i / (n / 5)) + 2 + 0.2 * noise;
    const d = 0.5 * Math.exp(-i / (n / 8)) + 0.2 + 0.03 * noise;
    out.push({
      step: i * stride,
      loss: g + 50 * d,
      generator_loss: g,
      generator_accuracy: 0.6 - 0.5 * Math.exp(-i / (n / 5)),
      discriminator_loss: d,
      discriminator_accuracy: 0.95 - 0.1 * Math.exp(-i / (n / 8)),
      learning_rate: 1e-4,
    });
  }
  return out;
}

function viewBox(svg: string): [number, number, number, number] {
  const m = /viewBox="([^"]+)"/.exec(svg);
  assert.ok(m, "viewBox present");
  const v = m[1].split(/\s+/).map(Number);
  assert.equal(v.length, 4);
  return v as [number, number, number, number];
}

/** Every polyline's points, parsed. */
function polylines(svg: string): Array<{ cls: string; pts: Array<[number, number]> }> {
  const out: Array<{ cls: string; pts: Array<[number, number]> }> = [];
  for (const m of svg.matchAll(/<polyline points="([^"]*)"([^>]*)\/>/g)) {
    const cls = /class="([^"]+)"/.exec(m[2])?.[1] ?? "";
    const pts = m[1]
      .trim()
      .split(/\s+/)
      .map((p) => {
        const [x, y] = p.split(",").map(Number);
        return [x, y] as [number, number];
      });
    out.push({ cls, pts });
  }
  return out;
}

/** Each panel's SVG fragment, by title. */
function panels(svg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of svg.matchAll(/<g class="panel"[^>]*>\n<title>([^<]*)<\/title>([\s\S]*?)\n<\/g>\n(?=<g|<\/svg>)/g)) out.set(m[1], m[2]);
  return out;
}

function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith("<svg"), "starts with <svg");
  assert.ok(svg.trimEnd().endsWith("</svg>"), "ends with </svg>");
  assert.equal((svg.match(/<g[\s>]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length, "balanced <g>");
  assert.equal((svg.match(/<text[\s>]/g) ?? []).length, (svg.match(/<\/text>/g) ?? []).length, "balanced <text>");
  assert.ok(!/NaN|Infinity|undefined/.test(svg), "no NaN / Infinity / undefined in the document");
  const [x0, y0, w, h] = viewBox(svg);
  for (const { pts } of polylines(svg)) {
    assert.ok(pts.length >= 2);
    for (const [x, y] of pts) {
      assert.ok(Number.isFinite(x) && Number.isFinite(y), `finite point ${x},${y}`);
      assert.ok(x >= x0 && x <= x0 + w && y >= y0 && y <= y0 + h, `point ${x},${y} inside the viewBox`);
    }
  }
}

function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  assert.equal(png.toString("latin1", 12, 16), "IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

test("decaying run: well-formed SVG, five titled panels, raw and EMA lines inside the viewBox", () => {
  const svg = renderTrainingCurves(decaying(600), { title: "test run" });
  assertWellFormed(svg);
  assert.deepEqual(viewBox(svg), [0, 0, 1200, 780]);
  const ps = panels(svg);
  assert.deepEqual([...ps.keys()], PANELS.map((p) => p.title), "five panels, in order");
  for (const p of PANELS) {
    const frag = ps.get(p.title)!;
    assert.ok(frag.includes(`>${p.title}</text>`), `visible title ${p.title}`);
    const lines = polylines(frag);
    assert.equal(lines.filter((l) => l.cls === "raw").length, 1, `${p.title}: one raw line`);
    assert.equal(lines.filter((l) => l.cls === "ema").length, 1, `${p.title}: one EMA line`);
    assert.ok(frag.includes(">step</text>"), "x label");
  }
  assert.ok(svg.includes(">test run</text>"));
  // Decaying total loss: the raw line goes down the page's y axis (screen y grows downwards).
  const loss = polylines(ps.get("total loss")!).find((l) => l.cls === "raw")!.pts;
  assert.ok(loss[0][1] < loss[loss.length - 1][1], "total loss decreases");
  assert.equal(loss.length, 600);
  // x increases along the line.
  for (let i = 1; i < loss.length; i++) assert.ok(loss[i][0] > loss[i - 1][0]);
});

test("nice round ticks", () => {
  const svg = renderTrainingCurves(decaying(600, 20)); // steps 0 .. 11980
  const frag = panels(svg).get("total loss")!;
  const labels = [...frag.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  for (const t of ["0", "5k", "10k"]) assert.ok(labels.includes(t), `x tick ${t} in ${labels.join(" ")}`);
  const a = niceAxis(0.123, 9.87, 6);
  assert.deepEqual(a.ticks, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceAxis(0, 999_999, 6, true).ticks.map((t) => formatTick(t, 200_000, 1e6)), ["0", "200k", "400k", "600k", "800k", "1M"]);
  assert.deepEqual(niceAxis(0.9, 0.95, 6).ticks.map((t) => formatTick(t, 0.01)), ["0.90", "0.91", "0.92", "0.93", "0.94", "0.95"]);
  assert.equal(formatTick(1.5e-5, 5e-6), "1.5e-5");
  // Constant and single values never give a zero-width axis.
  for (const [lo, hi] of [[3, 3], [0, 0], [-2, -2], [1e-9, 1e-9]]) {
    const c = niceAxis(lo, hi);
    assert.ok(c.max > c.min && c.min <= lo && c.max >= hi && c.ticks.length >= 2 && c.ticks.every(Number.isFinite), `${lo}`);
  }
});

test("many points are downsampled to at most about 2000 per series, spikes kept", () => {
  const recs = decaying(50_000, 1);
  recs[31_234].loss = 1000; // a spike must survive min/max bucketing
  const svg = renderTrainingCurves(recs);
  assertWellFormed(svg);
  for (const l of polylines(svg)) assert.ok(l.pts.length <= 2000, `${l.cls}: ${l.pts.length} points`);
  const frag = panels(svg).get("total loss")!;
  const raw = polylines(frag).find((l) => l.cls === "raw")!.pts;
  const top = Math.min(...raw.map((p) => p[1]));
  const [, , , h] = viewBox(svg);
  assert.ok(top < h / 2 && raw.filter((p) => p[1] === top).length === 1, "the spike is drawn");
  assert.ok(svg.length < 600_000, `svg size ${svg.length}`);
  // downsample itself.
  const xs = Array.from({ length: 10_000 }, (_, i) => i);
  const runs = downsample(xs, xs.map((x) => (x >= 5000 && x < 5100 ? NaN : Math.sin(x))), 2000);
  assert.equal(runs.length, 2, "the gap survives downsampling");
  assert.ok(runs.reduce((s, r) => s + r.length, 0) <= 2000);
});

test("missing values and NaN make gaps; a series with no values says no data; constant series", () => {
  const recs = decaying(300);
  for (let i = 100; i < 120; i++) recs[i].generator_loss = null;
  delete recs[200].discriminator_loss;
  recs[201].discriminator_loss = Number.NaN;
  for (const r of recs) {
    delete r.generator_accuracy;
    r.discriminator_accuracy = 0.5; // constant
  }
  const svg = renderTrainingCurves(recs);
  assertWellFormed(svg);
  const ps = panels(svg);
  assert.equal(polylines(ps.get("masked-LM loss (generator)")!).filter((l) => l.cls === "raw").length, 2);
  assert.equal(polylines(ps.get("discriminator loss")!).filter((l) => l.cls === "raw").length, 2);
  const none = ps.get("masked-LM accuracy (generator)")!;
  assert.equal(polylines(none).length, 0);
  assert.ok(none.includes(">no data</text>"));
  const flat = polylines(ps.get("discriminator accuracy")!).find((l) => l.cls === "raw")!.pts;
  assert.ok(flat.every((p) => p[1] === flat[0][1]), "constant series is a flat line");
  assert.ok(ps.get("discriminator accuracy")!.includes(">0.50</text>") || ps.get("discriminator accuracy")!.includes(">0.5</text>"));
  // EMA keeps the gaps and stays finite.
  const e = ema([1, 2, NaN, 4, Infinity, 6], 3);
  assert.ok(Number.isNaN(e[2]) && Number.isNaN(e[4]));
  assert.equal(e[0], 1, "debiased: the first value is itself");
  assert.ok([0, 1, 3, 5].every((i) => Number.isFinite(e[i])));
});

test("one record; unsorted and repeated steps; no usable record is an error", () => {
  const one = renderTrainingCurves([{ step: 7, loss: 3, generator_loss: 2, generator_accuracy: 0.1, discriminator_loss: 0.6, discriminator_accuracy: 0.5 }]);
  assertWellFormed(one);
  assert.equal((one.match(/<circle class="point"/g) ?? []).length, 5, "a dot per panel");
  assert.ok(panels(one).get("total loss")!.includes(">7</text>"), "the step's tick");
  // A resumed run: steps repeat and come out of order; the last record of a step wins.
  const svg = renderTrainingCurves([
    { step: 20, loss: 1 },
    { step: 10, loss: 5 },
    { step: 30, loss: 2 },
    { step: 20, loss: 3 },
  ]);
  assertWellFormed(svg);
  const pts = polylines(panels(svg).get("total loss")!)[0].pts;
  assert.equal(pts.length, 3);
  assert.ok(pts[0][0] < pts[1][0] && pts[1][0] < pts[2][0]);
  assert.ok(pts[1][1] < pts[2][1], "step 20 shows the later value 3, above step 30's 2");
  assert.throws(() => renderTrainingCurves([]), /no metrics records/);
  assert.throws(() => renderTrainingCurves([{ step: Number.NaN } as MetricsRecord]), /no metrics records/);
});

test("stroke-font mode: no <text>, labels as paths, titles kept for tools", () => {
  const svg = renderTrainingCurves(decaying(200), { textMode: "stroke", title: "Résumé <run> & co" });
  assertWellFormed(svg);
  assert.ok(!svg.includes("<text"), "no text elements");
  assert.deepEqual([...panels(svg).keys()], PANELS.map((p) => p.title));
  // Drawn with no fonts at all, the title area has ink; with <text> and no fonts, resvg draws nothing.
  const ink = (doc: string): number => {
    const img = new Resvg(doc, { font: { loadSystemFonts: false }, logLevel: "off" }).render();
    const px = img.pixels; // a getter that copies the whole image: read it once
    const width = img.width;
    let n = 0;
    for (let y = 12; y < 44; y++)
      for (let x = 380; x < 820; x++) {
        const o = (y * width + x) * 4;
        if (px[o] < 120 && px[o + 1] < 120 && px[o + 2] < 120) n++;
      }
    return n;
  };
  assert.ok(ink(svg) > 150, `stroke title ink ${ink(svg)}`);
  const withText = renderTrainingCurves(decaying(200), { title: "Résumé <run> & co\u0007" });
  assert.ok(withText.includes(">Résumé &lt;run&gt; &amp; co </text>"), "escaped, control character blanked");
  assert.equal(ink(withText), 0, "resvg without fonts drops <text>");
});

test("parseMetricsJsonl skips junk, arrays, records without a numeric step and a truncated last line", () => {
  const good = decaying(3).map((r) => JSON.stringify(r));
  const text = ["", good[0], "not json", "[1,2]", "null", '{"loss": 1}', '{"step": "3", "loss": 1}', good[1], "  ", good[2], '{"step": 30, "lo'].join("\n");
  const { records, skipped } = parseMetricsJsonl(text);
  assert.equal(records.length, 3);
  assert.equal(skipped, 6);
  assert.deepEqual(records.map((r) => r.step), [0, 10, 20]);
  assert.deepEqual(parseMetricsJsonl("\r\n" + good[0] + "\r\n"), { records: [JSON.parse(good[0])], skipped: 0 });
});

test("writeTrainingCurves writes training.svg and training.png atomically; junk lines counted", () => {
  const dir = tmp();
  try {
    const metrics = path.join(dir, "metrics.jsonl");
    const lines = decaying(400).map((r) => JSON.stringify(r));
    lines.splice(5, 0, "### junk ###");
    writeFileSync(metrics, "\ufeff" + lines.join("\n") + '\n{"step": 4000, "loss": 1.');
    const out = path.join(dir, "out", "nested");
    const r = writeTrainingCurves(metrics, out, { title: "writer test" });
    assert.equal(r.svg, path.join(out, "training.svg"));
    assert.equal(r.png, path.join(out, "training.png"));
    assert.equal(r.records, 400);
    assert.equal(r.skipped, 2);
    assert.equal(r.pngText, systemTextRenders() ? "font" : "stroke");
    const svg = readFileSync(r.svg, "utf8");
    assertWellFormed(svg);
    assert.ok(svg.includes(">writer test</text>"), "training.svg keeps real text");
    const png = readFileSync(r.png);
    const { width, height } = pngSize(png);
    assert.equal(width, 1200);
    assert.equal(height, 780);
    assert.deepEqual([r.pngWidth, r.pngHeight], [1200, 780]);
    assert.ok(png.length > 20_000, `png bytes ${png.length}`);
    assert.deepEqual(readdirSync(out).sort(), ["training.png", "training.svg"], "no temporary files left");
    // Forced stroke font, and a rewrite over existing files.
    const s = writeTrainingCurves(metrics, out, { textMode: "stroke" });
    assert.equal(s.pngText, "stroke");
    assert.deepEqual(pngSize(readFileSync(s.png)), { width: 1200, height: 780 });
    assert.deepEqual(readdirSync(out).sort(), ["training.png", "training.svg"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("empty or junk-only metrics, or no file, is a clear error and writes nothing", () => {
  const dir = tmp();
  try {
    const out = path.join(dir, "out");
    const empty = path.join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    assert.throws(() => writeTrainingCurves(empty, out), /no metrics records in .*empty\.jsonl \(the file is empty\)/);
    const junk = path.join(dir, "junk.jsonl");
    writeFileSync(junk, "oops\n{\"step\": 1, \"lo");
    assert.throws(() => writeTrainingCurves(junk, out), /no metrics records in .*junk\.jsonl \(2 lines skipped/);
    assert.throws(() => writeTrainingCurves(path.join(dir, "absent.jsonl"), out), /metrics file not found/);
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
