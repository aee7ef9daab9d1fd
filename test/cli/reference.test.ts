/** docs/cli.md is the commands' own --help, current: regenerate it with `npm run docs:cli` when a flag changes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("docs/cli.md matches the commands' --help", () => {
  const r = spawnSync(process.execPath, ["scripts/cli-reference.mjs", "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});
