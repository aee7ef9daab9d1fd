/**
 * The portable addon (binding.gyp, native/dispatch.cc): the kernels of each instruction-set level have no weak
 * function symbols (which the linker could share between levels, handing AVX-512 code to an AVX2 CPU); the
 * level is the best the CPU has unless ELECTRA_ISA asks for a lower one; each level computes what the
 * naive kernels compute; and the package's file readers import and run without loading the addon at all.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isaLevels } from "../helpers/isa.js";

const root = process.cwd();
const objects = join(root, "build", "Release", "obj.target");

function nodeEval(code: string, env: Record<string, string> = {}, cwd = root) {
  return spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd, encoding: "utf8", env: { ...process.env, ...env } });
}

test("the kernels of each level define no weak functions", { skip: existsSync(objects) && spawnSync("nm", ["--version"]).status === 0 ? false : "no build/Release/obj.target or no nm" }, () => {
  for (const level of ["sse42", "avx2", "avx512"]) {
    const o = join(objects, `kernels_${level}`, "native", "isa", `kernels_${level}.o`);
    assert.ok(existsSync(o), `${o} is missing`);
    const weak = spawnSync("nm", ["-C", o], { encoding: "utf8" }).stdout.split("\n").filter((l) => / W /.test(l));
    assert.deepEqual(weak, [], `${level}: weak functions could be shared between levels`);
  }
});

test("the fast kernels' level is the CPU's best, and ELECTRA_ISA picks a lower one; every level matches the naive kernels", () => {
  const best = isaLevels().at(-1)!;
  const probe = `
    import { addon } from "./dist/src/core/native.js";
    const a = addon();
    const N = 37, F = 301, pre = Float32Array.from({ length: N * F }, (_, i) => Math.sin(i * 0.37) * 4), bias = Float32Array.from({ length: F }, (_, i) => Math.cos(i));
    const run = () => { const p = pre.slice(), o = new Float32Array(N * F); a.bias_gelu_forward(o, p, bias, N, F); return o; };
    const fast = run(); a.use_naive(true); const slow = run(); a.use_naive(false);
    let worst = 0; for (let i = 0; i < fast.length; i++) worst = Math.max(worst, Math.abs(fast[i] - slow[i]));
    console.log(JSON.stringify({ isa: a.isa(), worst, again: run().every((x, i) => Object.is(x, fast[i])) }));`;
  const levels = ["sse4.2", "avx2", "avx512"].slice(0, ["sse4.2", "avx2", "avx512"].indexOf(best) + 1);
  for (const level of levels) {
    const r = nodeEval(probe, level === best ? {} : { ELECTRA_ISA: level });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.equal(got.isa, level);
    assert.ok(got.worst < 2e-6, `${level}: GELU differs from the naive kernel by ${got.worst}`);
    assert.ok(got.again, `${level}: not the same bits twice`);
  }
  if (best !== "avx512") {
    const r = nodeEval(`import { addon } from "./dist/src/core/native.js"; console.log(addon().isa());`, { ELECTRA_ISA: "avx512" });
    assert.equal(r.stdout.trim(), best);
    assert.match(r.stderr, /ELECTRA_ISA=avx512, but this CPU lacks it; using/);
  }
});

test("the file readers import and run without the addon; the first native call names what is missing", () => {
  // a copy of the package without build/ or prebuilds/: the addon cannot be found
  const dir = mkdtempSync(join(tmpdir(), "electra-noaddon-"));
  cpSync(join(root, "dist", "src"), join(dir, "dist", "src"), { recursive: true });
  for (const f of ["package.json", "binding.gyp"]) cpSync(join(root, f), join(dir, f));
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  const r = nodeEval(`
    import * as e from "./dist/src/index.js";
    import { writeFileSync } from "node:fs";
    const t = new Map([["w", { dtype: "F32", shape: [2], bytes: new Uint8Array(new Float32Array([1.5, -2]).buffer) }]]);
    e.writeSafetensors("w.safetensors", t);
    console.log(JSON.stringify([...e.readSafetensors("w.safetensors").tensors.keys()]));
    try { e.getThreads(); console.log("loaded"); } catch (err) { console.log(err.message); }`, {}, dir);
  assert.equal(r.status, 0, r.stderr);
  const [keys, message] = r.stdout.trim().split("\n");
  assert.equal(keys, '["w"]');
  assert.match(message, /^electra-ts: no native addon for linux-x64 in .* \(neither build\/Release nor a matching prebuild\): build it with `npm rebuild electra-ts`/);
  assert.deepEqual(readdirSync(dir).sort(), ["binding.gyp", "dist", "node_modules", "package.json", "w.safetensors"]);
});

const qemu = spawnSync("qemu-x86_64", ["--version"]).status === 0;

test("on CPUs without AVX-512 (qemu's Haswell) or without AVX (its Nehalem) the addon runs its own level and agrees with this CPU's", { skip: qemu ? false : "qemu-x86_64 (Debian qemu-user) is not installed" }, () => {
  // qemu 7's emulator has no AVX-512 at all: an AVX-512 instruction outside the avx512 level would stop it with SIGILL
  const probe = `
    import { addon } from "./dist/src/core/native.js";
    const a = addon();
    const N = 19, IC = 37, OC = 23, x = Float32Array.from({ length: N * IC }, (_, i) => Math.sin(i)), w = Float32Array.from({ length: OC * IC }, (_, i) => Math.cos(i * 0.7));
    const out = new Float32Array(N * OC), pre = Float32Array.from({ length: N * OC }, (_, i) => Math.sin(i * 0.3) * 3), g = new Float32Array(N * OC);
    a.matmul_forward(out, x, w, null, N, IC, OC);
    a.bias_gelu_forward(g, pre, null, N, OC);
    console.log(JSON.stringify({ isa: a.isa(), blas: a.blas_config(), out: Array.from(out), gelu: Array.from(g) }));`;
  const node = process.execPath;
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE; // let OpenBLAS see the emulated CPU too
  const here = JSON.parse(nodeEval(probe).stdout);
  for (const [cpu, level, blas] of [["Haswell", "avx2", "Haswell"], ["Nehalem", "sse4.2", "Nehalem"]] as const) {
    const r = spawnSync("qemu-x86_64", ["-cpu", cpu, node, "--input-type=module", "-e", probe], { cwd: root, encoding: "utf8", env });
    assert.equal(r.status, 0, `${cpu}: ${r.stderr.split("\n").filter((l) => !l.includes("TCG doesn't support")).join("\n")}`);
    const got = JSON.parse(r.stdout);
    assert.equal(got.isa, level);
    assert.match(got.blas, new RegExp(` ${blas} `));
    for (const k of ["out", "gelu"] as const) {
      const worst = Math.max(...got[k].map((v: number, i: number) => Math.abs(v - here[k][i]) / (1 + Math.abs(here[k][i]))));
      assert.ok(worst < 1e-5, `${cpu} ${k}: ${worst}`);
    }
  }
});
