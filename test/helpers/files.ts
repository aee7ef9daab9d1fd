/** Test-only file helpers: fresh temporary files, and the one-line `file:line: ` error check of the data readers. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileFormatError } from "../../src/data/format-error.js";

/**
 * A temporary folder removed when the process exits (in `parent`, default the OS's temporary folder), and a writer
 * of files in fresh subfolders of it.
 */
export function tmpFiles(prefix: string, parent = tmpdir()): { root: string; file(name: string, content: string | Buffer): string } {
  const root = mkdtempSync(path.join(parent, prefix));
  process.on("exit", () => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return {
    root,
    file(name, content) {
      const dir = path.join(root, String(n++));
      mkdirSync(dir, { recursive: true });
      const p = path.join(dir, name);
      writeFileSync(p, content);
      return p;
    },
  };
}

/**
 * Asserts that `fn` throws a one-line Error starting `file:line: ` (or `file: `) and containing `includes`; a
 * FileFormatError (of class `cls` when given) must also carry the file and line.
 */
export function throwsAt(fn: () => unknown, file: string, line: number | undefined, includes?: string | RegExp, cls?: typeof FileFormatError): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, "expected an Error");
    const m = e.message;
    assert.ok(!m.includes("\n"), `message should be one line: ${JSON.stringify(m)}`);
    const prefix = line === undefined ? `${file}: ` : `${file}:${line}: `;
    assert.ok(m.startsWith(prefix), `message ${JSON.stringify(m)} should start with ${JSON.stringify(prefix)}`);
    if (includes !== undefined) {
      if (typeof includes === "string") assert.ok(m.includes(includes), `message ${JSON.stringify(m)} should include ${JSON.stringify(includes)}`);
      else assert.match(m, includes);
    }
    if (cls) assert.ok(e instanceof cls, `expected a ${cls.name}, got ${e.constructor.name}`);
    if (e instanceof FileFormatError) {
      assert.equal(e.file, file);
      assert.equal(e.line, line);
    }
    return true;
  });
}
