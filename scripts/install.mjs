// npm's install step for electra-ts: use the prebuilt addon when one matches this machine (prebuilds/, found
// by node-gyp-build and test-loaded in a child process, so that a mismatch cannot crash the install), else
// build from source with node-gyp, after checking for what the build needs and naming what is missing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

function prebuildLoads() {
  if (process.env.npm_config_build_from_source === "true" || !existsSync(join(root, "prebuilds"))) return false;
  let path;
  try {
    path = require("node-gyp-build").resolve(root);
  } catch {
    return false;
  }
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(path)}).isa()`], { stdio: "ignore" });
  return r.status === 0;
}

if (prebuildLoads()) {
  console.log("electra-ts: using the prebuilt addon");
  process.exit(0);
}
const multiarch = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).stdout?.trim() || "x86_64-linux-gnu";
const needs = [
  ["g++", () => spawnSync("g++", ["--version"]).status === 0],
  ["make", () => spawnSync("make", ["--version"]).status === 0],
  ["python3", () => spawnSync("python3", ["--version"]).status === 0],
  ["libopenblas-openmp-dev", () => existsSync(`/usr/include/${multiarch}/openblas-openmp/cblas.h`)],
];
const missing = needs.filter(([, ok]) => !ok()).map(([p]) => p);
if (missing.length) {
  console.error(`electra-ts: no prebuilt addon matches ${process.platform}-${process.arch} here, and building it from source needs: ${missing.join(" ")}`);
  console.error(`electra-ts: install them (Debian/Ubuntu: sudo apt-get install -y ${missing.join(" ")}) and run npm rebuild electra-ts`);
  process.exit(1);
}
const gyp = process.env.npm_config_node_gyp;
const r = gyp ? spawnSync(process.execPath, [gyp, "rebuild"], { cwd: root, stdio: "inherit" }) : spawnSync("npx", ["--yes", "node-gyp", "rebuild"], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
