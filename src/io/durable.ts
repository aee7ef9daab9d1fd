/**
 * Durable, atomic writes of files and folders: after a kill or a power loss at any moment, a path holds either
 * its old content or its new content, complete, never a mixture or nothing.
 *
 * A file: write PATH.tmp, fsync it, rename it over PATH (one atomic step on POSIX), fsync the parent folder
 * so that the rename itself survives a power loss.
 *
 * A folder (a checkpoint, a model folder) cannot be replaced by one rename when it already exists, so:
 *   1. fill DIR.tmp                      a kill here leaves DIR.tmp incomplete: it is ignored and removed
 *   2. fsync every file and folder in it
 *   3. rename DIR.tmp -> DIR.new         from here on the new content is complete (the name says so)
 *   4. rename DIR -> DIR.old             (if DIR exists)
 *   5. rename DIR.new -> DIR, fsync the parent
 *   6. remove DIR.old
 * A reader that finds DIR.new takes it (the newest complete copy), else DIR, else DIR.old (a kill between
 * 4 and 5): see newestComplete. recoverFolder puts that copy back under DIR and removes the rest.
 *
 * Written here rather than with write-file-atomic: that package does the file case (tmp, fsync, rename) but
 * neither fsyncs the parent folder nor swaps folders, which is what checkpoints need; the file case is
 * a dozen lines of node:fs.
 *
 * Fault tests: ELECTRA_FAULT_KILL_AFTER=N kills the process with SIGKILL just after its N-th file operation
 * here (a write, fsync, rename or removal), so that a test can stop a run between any two of them.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";

const killAfter = Number(process.env.ELECTRA_FAULT_KILL_AFTER ?? 0);
let operations = 0;

/** Counts one file operation; the fault hook's kill point. */
function step(): void {
  operations++;
  if (killAfter > 0 && operations >= killAfter) process.kill(process.pid, "SIGKILL");
}

/** fsync of a file or folder (folders: so that the names in it, after a rename, are on disk). */
function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  step();
}

function fsyncTree(path: string): void {
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) fsyncTree(join(path, name));
  fsyncPath(path);
}

function rename(from: string, to: string): void {
  renameSync(from, to);
  step();
}

function remove(path: string): void {
  if (!existsSync(path)) return;
  rmSync(path, { recursive: true, force: true });
  step();
}

/** Writes a file atomically and durably (PATH.tmp, fsync, rename, fsync of the folder). */
export function writeFileDurable(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  step();
  commitFile(tmp, path);
}

/** Writes chunks in order to PATH.tmp-PID (no copy into one buffer: a checkpoint may be GBs), then commits it as commitFile does. */
export function writeChunksDurable(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  step();
  commitFile(tmp, path);
}

/** Moves a fully written temporary file over PATH durably: fsync it, rename it, fsync the folder. */
export function commitFile(tmp: string, path: string): void {
  fsyncPath(tmp);
  rename(tmp, path);
  fsyncPath(dirname(path));
}

/** The three names a folder goes through while it is replaced. */
export function folderVersions(dir: string): { tmp: string; fresh: string; old: string } {
  return { tmp: `${dir}.tmp`, fresh: `${dir}.new`, old: `${dir}.old` };
}

/**
 * The newest complete copy of a folder written by writeFolderDurable: DIR.new, else DIR, else DIR.old;
 * null when none exists. DIR.tmp is never complete.
 */
export function newestComplete(dir: string): string | null {
  const v = folderVersions(dir);
  for (const p of [v.fresh, dir, v.old]) if (existsSync(p) && statSync(p).isDirectory()) return p;
  return null;
}

/**
 * Finishes or undoes an interrupted replacement: afterwards DIR is the newest complete copy (if any) and
 * the other versions are gone. Returns whether DIR exists.
 */
export function recoverFolder(dir: string): boolean {
  const v = folderVersions(dir);
  remove(v.tmp);
  const best = newestComplete(dir);
  if (best === null) return false;
  if (best !== dir) {
    remove(dir);
    rename(best, dir);
    fsyncPath(dirname(dir));
  }
  remove(v.fresh);
  remove(v.old);
  return true;
}

/** The temporary folders being filled now (absolute paths). */
const filling = new Set<string>();

/**
 * Replaces the folder DIR with what `fill` writes into the folder it is given, atomically and durably (the
 * steps in the header). An earlier interrupted replacement is finished first.
 */
export function writeFolderDurable(dir: string, fill: (tmp: string) => void): void {
  // inside a folder that another writeFolderDurable is filling (a checkpoint's model folders), the outer
  // folder's commit makes this one durable too: written in place, fsynced once, with the outer tree
  const at = resolve(dir);
  if ([...filling].some((f) => at.startsWith(f + sep))) {
    mkdirSync(dir, { recursive: true });
    fill(dir);
    return;
  }
  recoverFolder(dir);
  const v = folderVersions(dir);
  mkdirSync(v.tmp, { recursive: true }); // the parent too: a first save into a new output folder
  const tmp = resolve(v.tmp);
  filling.add(tmp);
  try {
    fill(v.tmp);
  } finally {
    filling.delete(tmp);
  }
  step();
  fsyncTree(v.tmp);
  rename(v.tmp, v.fresh);
  const had = existsSync(dir);
  if (had) rename(dir, v.old);
  rename(v.fresh, dir);
  fsyncPath(dirname(dir));
  if (had) remove(v.old);
}
