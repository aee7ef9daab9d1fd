/**
 * Checkpoint loading speed: an ELECTRA-Small discriminator state dict (Hugging Face names and
 * shapes: 12 layers, hidden 256, embedding 128, FFN 1024, vocab 30522; ~54 MB of F32) written to a
 * temporary directory in each format, then loaded several times. Prints one JSON line per format:
 *   {"format": ..., "seconds": median load time, "min_seconds": ..., "runs": N, "bytes": file size, "tensors": N}
 * Target: under 1 s each. Run: npx tsc -p . && node dist/bench/io-load.js [runs]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPytorchBin, writePytorchLegacy, writePytorchZip } from "../src/io/pytorch.js";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.js";
import { readTfCheckpoint } from "../src/io/tf/bundle.js";
import { writeTfCheckpoint } from "../test/helpers/tf-writer.js";
import { hfToTf } from "../src/io/tf/names.js";
import type { TensorData } from "../src/io/tensor-data.js";

const L = 12, H = 256, E = 128, F = 1024, V = 30522, P = 512, T = 2;

function electraSmall(): Map<string, TensorData> {
  const shapes: [string, number[]][] = [
    ["electra.embeddings.word_embeddings.weight", [V, E]],
    ["electra.embeddings.position_embeddings.weight", [P, E]],
    ["electra.embeddings.token_type_embeddings.weight", [T, E]],
    ["electra.embeddings.LayerNorm.weight", [E]],
    ["electra.embeddings.LayerNorm.bias", [E]],
    ["electra.embeddings_project.weight", [H, E]],
    ["electra.embeddings_project.bias", [H]],
  ];
  for (let i = 0; i < L; i++) {
    const p = `electra.encoder.layer.${i}`;
    for (const n of ["query", "key", "value"]) shapes.push([`${p}.attention.self.${n}.weight`, [H, H]], [`${p}.attention.self.${n}.bias`, [H]]);
    shapes.push(
      [`${p}.attention.output.dense.weight`, [H, H]], [`${p}.attention.output.dense.bias`, [H]],
      [`${p}.attention.output.LayerNorm.weight`, [H]], [`${p}.attention.output.LayerNorm.bias`, [H]],
      [`${p}.intermediate.dense.weight`, [F, H]], [`${p}.intermediate.dense.bias`, [F]],
      [`${p}.output.dense.weight`, [H, F]], [`${p}.output.dense.bias`, [H]],
      [`${p}.output.LayerNorm.weight`, [H]], [`${p}.output.LayerNorm.bias`, [H]],
    );
  }
  shapes.push(
    ["discriminator_predictions.dense.weight", [H, H]], ["discriminator_predictions.dense.bias", [H]],
    ["discriminator_predictions.dense_prediction.weight", [1, H]], ["discriminator_predictions.dense_prediction.bias", [1]],
  );
  let seed = 12345;
  const m = new Map<string, TensorData>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      v[i] = (seed / 4294967296 - 0.5) * 0.04;
    }
    m.set(name, { dtype: "F32", shape, bytes: new Uint8Array(v.buffer) });
  }
  return m;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const runs = Math.max(1, Number(process.argv[2] ?? 5) || 5);
const dir = mkdtempSync(join(tmpdir(), "electra-io-bench-"));
try {
  const sd = electraSmall();
  const paths = {
    safetensors: join(dir, "model.safetensors"),
    "pytorch-zip": join(dir, "pytorch_model.bin"),
    "pytorch-legacy": join(dir, "pytorch_model_legacy.bin"),
    "tf-checkpoint": join(dir, "tf", "model.ckpt"),
  };
  writeSafetensors(paths.safetensors, sd);
  writePytorchZip(sd, paths["pytorch-zip"]);
  writePytorchLegacy(sd, paths["pytorch-legacy"]);
  writeTfCheckpoint(paths["tf-checkpoint"], hfToTf(sd, "discriminator"));
  const loaders: Record<keyof typeof paths, (p: string) => Map<string, TensorData>> = {
    safetensors: (p) => readSafetensors(p).tensors,
    "pytorch-zip": (p) => readPytorchBin(p),
    "pytorch-legacy": (p) => readPytorchBin(p),
    "tf-checkpoint": (p) => readTfCheckpoint(p),
  };
  for (const format of Object.keys(paths) as (keyof typeof paths)[]) {
    const path = paths[format];
    const times: number[] = [];
    let count = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      const m = loaders[format](path);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      count = m.size;
    }
    const bytes = format === "tf-checkpoint" ? statSync(`${path}.data-00000-of-00001`).size + statSync(`${path}.index`).size : statSync(path).size;
    console.log(JSON.stringify({ format, seconds: +median(times).toFixed(4), min_seconds: +Math.min(...times).toFixed(4), first_seconds: +times[0].toFixed(4), runs, bytes, tensors: count }));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
