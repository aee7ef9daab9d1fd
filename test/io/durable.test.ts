/**
 * src/io/durable.ts under SIGKILL after every one of its file operations in turn (ELECTRA_FAULT_KILL_AFTER=N,
 * N = 1, 2, ... until the write completes): a replaced folder or file is always the old content or the new,
 * whole; the newest committed copy wins; recoverFolder leaves exactly that copy and nothing else.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newestComplete, recoverFolder, writeFileDurable, writeFolderDurable } from "../../src/io/durable.js";

const durable = join(process.cwd(), "dist", "src", "io", "durable.js");
const FILES = ["config.json", "model.safetensors", "sub/tokenizer.json"];

/** A folder whose every file holds `tag` (so a mixture of two versions shows). */
function fill(dir: string, tag: string): void {
  for (const f of FILES) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), `${tag}:${f}`);
  }
}

/** The tag of a folder, or "mixed"/"incomplete". */
function tagOf(dir: string): string {
  const tags = new Set(FILES.map((f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").split(":")[0] : "incomplete")));
  return tags.size === 1 ? [...tags][0] : "mixed";
}

function killedWrite(script: string, n: number): number | null {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, ELECTRA_FAULT_KILL_AFTER: String(n) } });
  return r.signal === "SIGKILL" ? n : r.status === 0 ? null : assert.fail(r.stderr.toString());
}

test("a folder replaced under SIGKILL at every file operation is the old one or the new one, and the newest committed wins", () => {
  const root = mkdtempSync(join(tmpdir(), "electra-durable-"));
  const outcomes: string[] = [];
  for (let n = 1; ; n++) {
    const dir = join(root, `m${n}`);
    fill(dir, "old");
    const script = `import { writeFolderDurable } from ${JSON.stringify(durable)};
      import { mkdirSync, writeFileSync } from "node:fs"; import { join } from "node:path";
      writeFolderDurable(${JSON.stringify(dir)}, (tmp) => { for (const f of ${JSON.stringify(FILES)}) { mkdirSync(join(tmp, f, ".."), { recursive: true }); writeFileSync(join(tmp, f), "new:" + f); } });`;
    const killed = killedWrite(script, n);
    const committed = [dir, `${dir}.new`].filter((p) => existsSync(p)).map(tagOf);
    const best = newestComplete(dir);
    assert.ok(best !== null, `kill after op ${n}: no copy left`);
    const got = tagOf(best);
    assert.ok(got === "old" || got === "new", `kill after op ${n}: ${best} is ${got}`);
    if (committed.includes("new")) assert.equal(got, "new", `kill after op ${n}: a newer committed copy exists but ${best} was chosen`);
    assert.equal(recoverFolder(dir), true);
    assert.equal(tagOf(dir), got, `kill after op ${n}: recovery changed the content`);
    assert.deepEqual(readdirSync(root).filter((e) => e.startsWith(`m${n}.`)), [], `kill after op ${n}: leftovers after recovery`);
    outcomes.push(killed === null ? "done" : got);
    if (killed === null) break;
    assert.ok(n < 200, "the write never completed");
  }
  // the kills fall before the commit (old), then after it (new); the last run completes
  const firstNew = outcomes.indexOf("new");
  assert.ok(firstNew > 0 && outcomes.slice(0, firstNew).every((t) => t === "old") && outcomes.slice(firstNew, -1).every((t) => t === "new"), outcomes.join(" "));
  rmSync(root, { recursive: true, force: true });
});

test("a file written durably under SIGKILL at every file operation is the old content or the new", () => {
  const root = mkdtempSync(join(tmpdir(), "electra-durable-"));
  const file = join(root, "metrics.jsonl");
  const seen = new Set<string>();
  for (let n = 1; ; n++) {
    writeFileSync(file, "old\n");
    const killed = killedWrite(`import { writeFileDurable } from ${JSON.stringify(durable)}; writeFileDurable(${JSON.stringify(file)}, "new\\n".repeat(1000));`, n);
    const got = readFileSync(file, "utf8");
    assert.ok(got === "old\n" || got === "new\n".repeat(1000), `kill after op ${n}: ${JSON.stringify(got.slice(0, 20))}`);
    seen.add(got.slice(0, 3));
    if (killed === null) break;
  }
  assert.deepEqual([...seen].sort(), ["new", "old"]);
  rmSync(root, { recursive: true, force: true });
});

test("a first save creates the folder and its parents; a second replaces it", () => {
  const root = mkdtempSync(join(tmpdir(), "electra-durable-"));
  const dir = join(root, "a", "b", "model");
  writeFolderDurable(dir, (tmp) => fill(tmp, "one"));
  assert.equal(tagOf(dir), "one");
  writeFolderDurable(dir, (tmp) => fill(tmp, "two"));
  assert.equal(tagOf(dir), "two");
  assert.deepEqual(readdirSync(join(root, "a", "b")), ["model"]);
  writeFileDurable(join(dir, "x.txt"), "x");
  assert.deepEqual(readdirSync(dir).sort(), ["config.json", "model.safetensors", "sub", "x.txt"]);
  rmSync(root, { recursive: true, force: true });
});
