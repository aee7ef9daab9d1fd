// The training-curve plot (src/train/plot.ts): the Vega-Lite panels in the SVG, the PNG resvg makes of it with
// the shipped font, determinism, bad values, downsampling and the metrics.jsonl reader and writer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inflateSync } from "node:zlib";
import {
  renderTrainingCurves,
  writeTrainingCurves,
  trainingCurvesSpec,
  parseMetricsJsonl,
  svgToPng,
  ema,
  downsample,
  PANELS,
  PNG_WIDTH,
  type MetricsRecord,
} from "../../src/train/plot.js";

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), "plot-test-"));
}

/** A run like pretraining's metrics.jsonl: losses fall, accuracies rise, a little deterministic noise. */
function decaying(n: number, stride = 10): MetricsRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const noise = Math.sin(i * 12.9898) * 0.5;
    const g = 8 * Math.exp(-i / (n / 5)) + 2 + 0.2 * noise;
    const d = 0.5 * Math.exp(-i / (n / 8)) + 0.2 + 0.03 * noise;
    return {
      step: (i + 1) * stride, loss: g + 50 * d, generator_loss: g, generator_accuracy: 0.6 - 0.5 * Math.exp(-i / (n / 5)),
      discriminator_loss: d, discriminator_accuracy: 0.95 - 0.1 * Math.exp(-i / (n / 8)), discriminator_precision: 0.7 + 0.1 * noise,
      discriminator_recall: 0.5 + 0.1 * noise, discriminator_base_loss: 0.39 + 0.01 * noise, lr: 1e-4 * Math.min(1, i / 50),
      grad_norm: 1 + noise, tokens_per_second: 12_000 + 500 * noise,
    };
  });
}

/** The lines of the SVG: panel index, layer (0 light, 1 bold), the series (from the path's aria-label) and point count. */
function lines(svg: string): Array<{ panel: number; layer: number; series: string; points: number }> {
  const out: Array<{ panel: number; layer: number; series: string; points: number }> = [];
  for (const g of svg.matchAll(/<g class="mark-line role-mark concat_(\d+)_layer_(\d+)_marks"[^>]*>([\s\S]*?)<\/g>/g))
    for (const p of g[3].matchAll(/<path [^>]*aria-label="[^"]*series: ([^"]*)"[^>]*d="([^"]*)"/g))
      out.push({ panel: Number(g[1]), layer: Number(g[2]), series: p[1], points: (p[2].match(/[ML]/g) ?? []).length });
  return out;
}

function titles(svg: string): string[] {
  return [...svg.matchAll(/aria-label="Title text '([^']*)'"/g)].map((m) => m[1]);
}

/** Checks the PNG signature and IHDR, inflates the IDAT stream and checks it holds every row of 8-bit RGBA. */
function decodePng(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  assert.equal(png.toString("latin1", 12, 16), "IHDR");
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.deepEqual([png[24], png[25]], [8, 6], "8-bit RGBA");
  const idat: Buffer[] = [];
  for (let p = 8; p < png.length; ) {
    const len = png.readUInt32BE(p);
    if (png.toString("latin1", p + 4, p + 8) === "IDAT") idat.push(png.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  assert.equal(inflateSync(Buffer.concat(idat)).length, height * (1 + width * 4), "every scanline present");
  return { width, height };
}

test("the SVG has the six titled panels and one light and one bold line per series", async () => {
  const svg = await renderTrainingCurves(decaying(600), { title: "test run" });
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.ok(!/NaN|Infinity|undefined/.test(svg), "no NaN / Infinity / undefined in the document");
  assert.deepEqual(titles(svg), [...PANELS.map((p) => p.title), "test run"]);
  const drawn = lines(svg);
  for (const [i, p] of PANELS.entries()) {
    for (const layer of [0, 1]) {
      const want = p.series.filter((s) => layer === 1 || s.smooth).map((s) => s.label);
      assert.deepEqual(drawn.filter((l) => l.panel === i && l.layer === layer).map((l) => l.series), want, `${p.title}, layer ${layer}`);
    }
  }
  assert.ok(drawn.every((l) => l.points === 600), "every record drawn");
  for (const label of ["step", "loss (nats)", "accuracy", "tokens/s", "learning rate", "global norm"]) assert.ok(svg.includes(`>${label}</text>`), label);
  const flat = await renderTrainingCurves(decaying(200).map((r) => ({ ...r, loss: 12.5 })));
  assert.ok(flat.includes(">total 12.5</text>"), "legend labels carry the last value");
  assert.ok(flat.includes(">last: 1.00e-4</text>"), "a single series' last value is the subtitle");
});

test("the PNG decodes, is drawn with the shipped font, and the same input gives the same bytes", async () => {
  const recs = decaying(300);
  const svg = await renderTrainingCurves(recs);
  const a = svgToPng(svg);
  const { width, height } = decodePng(a.png);
  assert.equal(width, PNG_WIDTH);
  assert.ok(height > 500 && height < 1200, `height ${height}`);
  assert.deepEqual([a.width, a.height], [width, height]);
  // resvg drops <text> it has no font for: with the font, the text changes the picture
  const noText = svgToPng(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ""));
  assert.ok(!a.png.equals(noText.png), "labels are drawn");
  const again = await renderTrainingCurves(recs);
  assert.equal(again, svg, "same SVG");
  assert.ok(svgToPng(again).png.equals(a.png), "same PNG bytes");
});

test("missing, null, NaN, Infinity and non-number values are skipped; an empty series says no data", async () => {
  const recs = decaying(300);
  for (let i = 100; i < 120; i++) recs[i].generator_loss = null;
  delete recs[200].discriminator_loss;
  recs[201].discriminator_loss = Number.NaN;
  recs[202].loss = Number.POSITIVE_INFINITY;
  recs[203].loss = "1.5";
  for (const r of recs) {
    delete r.grad_norm;
    r.tokens_per_second = null;
    r.discriminator_accuracy = 0.5; // constant
  }
  const svg = await renderTrainingCurves(recs);
  assert.ok(!/NaN|Infinity|undefined/.test(svg));
  const drawn = lines(svg);
  assert.ok(!drawn.some((l) => l.series === "tokens/s" || l.series === "grad norm"));
  assert.equal((svg.match(/>no data<\/text>/g) ?? []).length, 2);
  // a missing value breaks the line: the generator's light line starts again after the gap
  const gen = svg.match(/aria-label="[^"]*series: generator \(MLM\)"[^>]*d="([^"]*)"/)![1];
  assert.equal((gen.match(/M/g) ?? []).length, 2, "one gap");
  decodePng(svgToPng(svg).png);
  // EMA keeps the gaps, and its first value is the value itself (debiased)
  const e = ema([1, 2, NaN, 4, Infinity, 6], 3);
  assert.ok(Number.isNaN(e[2]) && Number.isNaN(e[4]) && e[0] === 1 && [1, 3, 5].every((i) => Number.isFinite(e[i])));
});

test("one record is drawn as points; repeated and unsorted steps keep the last record of a step", async () => {
  const one = await renderTrainingCurves([{ step: 7, loss: 3, generator_loss: 2, discriminator_loss: 0.6 }]);
  assert.ok(/>1 record, steps 7 to 7</.test(one));
  assert.equal((one.match(/<g class="mark-symbol role-mark/g) ?? []).length, 12, "a point layer for each line layer");
  assert.ok((one.match(/<path[^>]*aria-roledescription="point"/g) ?? []).length >= 3, "three points");
  const spec = trainingCurvesSpec([{ step: 20, loss: 1 }, { step: 10, loss: 5 }, { step: 30, loss: 2 }, { step: 20, loss: 3 }]);
  const rows = (spec.data as { values: Array<{ series: string; step: number; value: number }> }).values.filter((r) => r.series === "total");
  assert.deepEqual(rows.map((r) => [r.step, r.value]), [[10, 5], [20, 3], [30, 2]]);
  assert.throws(() => trainingCurvesSpec([]), /no metrics records/);
  const escaped = await renderTrainingCurves([{ step: 1, loss: 1 }], { title: "Résumé <run> & co" });
  assert.ok(escaped.includes(">Résumé &lt;run&gt; &amp; co</text>"));
});

test("many records are downsampled to at most about 2000 points a line, spikes kept", async () => {
  const ys = Array.from({ length: 30_000 }, (_, i) => Math.sin(i / 100));
  ys[12_345] = 1000;
  ys[20_000] = NaN;
  const keep = downsample(ys, 2000);
  assert.ok(keep.length <= 2000 && keep.length > 1000, `${keep.length}`);
  assert.ok(keep.includes(12_345), "the spike survives");
  assert.ok(keep.every((k, i) => i === 0 || k > keep[i - 1]), "in order");
  assert.deepEqual(downsample([1, 2, 3], 2000), [0, 1, 2]);
  const svg = await renderTrainingCurves(decaying(20_000, 1));
  for (const l of lines(svg)) assert.ok(l.points <= 2000, `${l.series}: ${l.points} points`);
  assert.ok(svg.length < 1_500_000, `svg size ${svg.length}`);
});

test("parseMetricsJsonl skips junk, arrays, records without a numeric step and a truncated last line", () => {
  const good = decaying(3).map((r) => JSON.stringify(r));
  const text = ["", good[0], "not json", "[1,2]", "null", '{"loss": 1}', '{"step": "3", "loss": 1}', good[1], "  ", good[2], '{"step": 30, "lo'].join("\n");
  const { records, skipped } = parseMetricsJsonl(text);
  assert.deepEqual(records.map((r) => r.step), [10, 20, 30]);
  assert.equal(skipped, 6);
  assert.deepEqual(parseMetricsJsonl("\r\n" + good[0] + "\r\n"), { records: [JSON.parse(good[0])], skipped: 0 });
});

test("writeTrainingCurves writes training.svg and training.png atomically; junk lines counted", async () => {
  const dir = tmp();
  try {
    const metrics = path.join(dir, "metrics.jsonl");
    const text = decaying(400).map((r) => JSON.stringify(r));
    text.splice(5, 0, "### junk ###");
    writeFileSync(metrics, "\ufeff" + text.join("\n") + '\n{"step": 4000, "loss": 1.');
    const out = path.join(dir, "out", "nested");
    for (let i = 0; i < 2; i++) {
      const r = await writeTrainingCurves(metrics, out, { title: "writer test" });
      assert.deepEqual([r.svg, r.png, r.records, r.skipped], [path.join(out, "training.svg"), path.join(out, "training.png"), 400, 2]);
      assert.ok(readFileSync(r.svg, "utf8").includes(">writer test</text>"));
      assert.deepEqual(decodePng(readFileSync(r.png)), { width: r.pngWidth, height: r.pngHeight });
      assert.deepEqual(readdirSync(out).sort(), ["training.png", "training.svg"], "no temporary files left");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("empty or junk-only metrics, or no file, is a clear error and writes nothing", async () => {
  const dir = tmp();
  try {
    const out = path.join(dir, "out");
    const empty = path.join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    await assert.rejects(writeTrainingCurves(empty, out), /no metrics records in .*empty\.jsonl \(the file is empty\)/);
    const junk = path.join(dir, "junk.jsonl");
    writeFileSync(junk, 'oops\n{"step": 1, "lo');
    await assert.rejects(writeTrainingCurves(junk, out), /no metrics records in .*junk\.jsonl \(2 lines skipped/);
    await assert.rejects(writeTrainingCurves(path.join(dir, "absent.jsonl"), out), /metrics file not found/);
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
