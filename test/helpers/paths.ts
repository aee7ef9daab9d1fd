import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** ../shared relative to the repository root (tests run from the repository root). */
export function sharedPath(...parts: string[]): string {
  return resolve(process.cwd(), "..", "shared", ...parts);
}

/** A skip reason when a shared file or folder is absent (tests print it), else false. */
export function skipUnless(path: string): string | false {
  return existsSync(path) ? false : `${path} is absent (../shared is not checked out beside the repository)`;
}
