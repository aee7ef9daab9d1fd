/** What the CPU has, from /proc/cpuinfo (empty elsewhere), for the tests that run each instruction-set level. */
import { existsSync, readFileSync } from "node:fs";

const cpuFlags = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";

/** Whether /proc/cpuinfo lists the flag (e.g. "avx2", "avx512_vnni"). */
export function cpuHas(flag: string): boolean {
  return new RegExp(`\\b${flag}\\b`).test(cpuFlags);
}

/** The levels the addon can run here (native/dispatch.cc's conditions), lowest first: ELECTRA_ISA's values. */
export function isaLevels(): string[] {
  const levels = ["sse4.2"];
  if (cpuHas("avx2") && cpuHas("fma")) levels.push("avx2");
  if (cpuHas("avx512f") && cpuHas("avx512bw") && cpuHas("avx512dq") && cpuHas("avx512vl")) levels.push("avx512");
  return levels;
}
