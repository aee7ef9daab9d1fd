import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** ../shared relative to the repository root (tests run from the repository root). */
export function sharedPath(...parts: string[]): string {
  return resolve(process.cwd(), "..", "shared", ...parts);
}

/**
 * A skip reason when any of the shared files or folders is absent (node's test runner prints it with the
 * skipped test), else false.
 */
export function skipUnless(...paths: string[]): string | false {
  const missing = paths.filter((p) => !existsSync(p));
  return missing.length ? `shared data absent (../shared is not checked out beside the repository): ${missing.join(", ")}` : false;
}
