/**
 * The MPI world of a data-parallel run (`mpirun -np N electra pretrain|finetune ...`), or a world of one process.
 *
 * MPI is optional: the second addon (build/Release/electra_mpi.node, native/mpi.cc, built only where Open MPI's
 * mpicc is: `bash setup.sh --mpi`) is loaded only when mpirun's environment says there are several ranks
 * (OMPI_COMM_WORLD_SIZE, or PMIX_RANK / PMI_RANK from another launcher). A single-machine user never loads it.
 *
 * Collectives run on the addon's communication thread; every wait is bounded (the timeout, --mpi-timeout): a rank
 * that died or hangs ends the whole job with a message naming it (see native/mpi.cc).
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./native.js";

/** Seconds a rank waits in a training step's collective before it ends the job (ELECTRA_MPI_TIMEOUT, --mpi-timeout). */
export const DEFAULT_MPI_TIMEOUT = 300;

type Reducible = Float32Array | Float64Array | Int32Array;

interface MpiAddon {
  init(): { rank: number; size: number; threadLevel: string; host: string };
  start(kind: "allreduce" | "bcast" | "barrier", a?: Reducible | Uint8Array, root?: number): void;
  setStep(step: number): void;
  wait(timeoutSeconds: number, what: string, arrive: boolean): void;
  busySeconds(): number;
  finalize(): void;
  abort(code: number, message?: string): never;
  library: string;
}

/** An error every rank has (rank 0 found it and told the others): printed once, by rank 0. */
export class EveryRankError extends Error {
  readonly everyRank = true;
}

export interface World {
  readonly rank: number;
  readonly size: number;
  /** this host's name (MPI_Get_processor_name; os.hostname() without MPI) */
  readonly host: string;
  /** seconds a training step's collective may wait (0: no bound) */
  timeout: number;
  /** the training step the next collectives belong to (named when one stalls) */
  atStep(step: number): void;
  /** in-place sum over all ranks of each array, in the order given; waits (bounded) */
  sum(arrays: Reducible[], what?: string): void;
  /** queues an in-place sum (returns at once: the array must stay untouched until wait) */
  startSum(a: Reducible): void;
  /** waits for everything queued */
  wait(what?: string): void;
  /** rank `root`'s values into every rank's array (waits without bound: set-up) */
  broadcast(arrays: (Reducible | Uint8Array)[], root?: number): void;
  /**
   * Runs fn on rank 0 only and gives its JSON result to every rank; an error thrown there is thrown on every
   * rank as an EveryRankError. Waits without bound (rank 0 may be building data or reading a checkpoint).
   */
  agree<T>(fn: () => T | Promise<T>): Promise<T>;
  /** seconds the ranks' collectives have taken so far (the communication thread's time in MPI) */
  busySeconds(): number;
}

class SingleWorld implements World {
  readonly rank = 0;
  readonly size = 1;
  readonly host = "localhost";
  timeout = 0;
  atStep(): void {}
  sum(): void {}
  startSum(): void {}
  wait(): void {}
  broadcast(): void {}
  async agree<T>(fn: () => T | Promise<T>): Promise<T> {
    return fn();
  }
  busySeconds(): number {
    return 0;
  }
}

/** The world of one process (no MPI). */
export const ONE_PROCESS: World = new SingleWorld();

class MpiWorld implements World {
  readonly rank: number;
  readonly size: number;
  readonly host: string;
  timeout = DEFAULT_MPI_TIMEOUT;

  constructor(private readonly m: MpiAddon) {
    const w = m.init();
    this.rank = w.rank;
    this.size = w.size;
    this.host = w.host;
  }
  atStep(step: number): void {
    this.m.setStep(step);
  }
  sum(arrays: Reducible[], what = "all-reduce"): void {
    for (const a of arrays) this.m.start("allreduce", a);
    this.wait(what);
  }
  startSum(a: Reducible): void {
    this.m.start("allreduce", a);
  }
  wait(what = "all-reduce"): void {
    this.m.wait(this.timeout, what, true);
  }
  broadcast(arrays: (Reducible | Uint8Array)[], root = 0): void {
    for (const a of arrays) this.m.start("bcast", a, root);
    this.m.wait(0, "broadcast", false);
  }
  async agree<T>(fn: () => T | Promise<T>): Promise<T> {
    let text = "";
    if (this.rank === 0) {
      try {
        text = JSON.stringify({ ok: (await fn()) ?? null });
      } catch (e) {
        text = JSON.stringify({ error: (e as Error)?.message ?? String(e) });
        // rank 0 rethrows its own error (its stack); the others get the message
        this.send(text);
        throw Object.assign(e as Error, { everyRank: true });
      }
    }
    const got = JSON.parse(this.send(text)) as { ok?: T; error?: string };
    if (got.error !== undefined) throw new EveryRankError(got.error);
    return got.ok as T;
  }
  /** rank 0's text to every rank */
  private send(text: string): string {
    const bytes = Buffer.from(text, "utf8");
    const len = new Int32Array([bytes.length]);
    this.broadcast([len]);
    const buf = this.rank === 0 ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : new Uint8Array(len[0]);
    this.broadcast([buf]);
    return Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString("utf8");
  }
  busySeconds(): number {
    return this.m.busySeconds();
  }
  finalize(): void {
    this.m.finalize();
  }
  abort(code: number, message: string): never {
    return this.m.abort(code, message);
  }
}

/** The number of ranks mpirun (or another PMI launcher) says this process is one of; null: not launched by one. */
export function launchedRanks(env: NodeJS.ProcessEnv = process.env): number | null {
  if (env.OMPI_COMM_WORLD_SIZE !== undefined) return Number(env.OMPI_COMM_WORLD_SIZE);
  if (env.PMIX_RANK !== undefined || env.PMI_RANK !== undefined) return Number(env.PMI_SIZE ?? env.PMIX_SIZE ?? NaN);
  return null;
}

/** The path of the MPI addon. */
export function mpiAddonPath(): string {
  return join(packageRoot(), "build", "Release", "electra_mpi.node");
}

let world: World | null = null;

/**
 * This process's world: several ranks under mpirun (MPI started here, once), else one. Throws one line when
 * mpirun started several ranks but the MPI addon is not built.
 */
export function getWorld(): World {
  if (world) return world;
  const n = launchedRanks();
  if (n === null || n === 1) return (world = ONE_PROCESS);
  const path = mpiAddonPath();
  if (!existsSync(path)) {
    throw new Error(`this process is one of ${Number.isFinite(n) ? n : "several"} MPI ranks (mpirun), but the MPI addon ${path} is not built: in a clone, run \`bash setup.sh --mpi\` (installs Open MPI and builds it); for an installed package, install Open MPI (apt-get install openmpi-bin libopenmpi-dev) and run \`npm rebuild electra-ts --build-from-source\``);
  }
  const require = createRequire(import.meta.url);
  let addon: MpiAddon;
  try {
    addon = require(path) as MpiAddon;
  } catch (e) {
    throw new Error(`cannot load the MPI addon ${path}: ${(e as Error).message}. Is Open MPI installed (bash setup.sh --mpi)?`);
  }
  const w = new MpiWorld(addon);
  const t = process.env.ELECTRA_MPI_TIMEOUT;
  if (t !== undefined && t !== "") w.timeout = Number(t);
  return (world = w);
}

/** The world if one with several ranks was started (for the command's end), else null. */
function startedMpi(): MpiWorld | null {
  return world instanceof MpiWorld ? world : null;
}

/** The normal end of a command: every rank finalizes MPI (without it mpirun reports an abnormal end). */
export function endWorld(): void {
  startedMpi()?.finalize();
}

/**
 * The end of a failed command. Without MPI: prints the line. With MPI: an error every rank has (EveryRankError)
 * is printed by rank 0 and every rank ends normally with code 1; an error of this rank alone is printed with the
 * rank's number and ends the whole job (MPI_Abort).
 */
export function failWorld(line: string, e: unknown): never {
  const w = startedMpi();
  if (!w) {
    console.error(line);
    process.exit(1);
  }
  if ((e as { everyRank?: boolean })?.everyRank) {
    if (w.rank === 0) console.error(line);
    w.finalize();
    process.exit(1);
  }
  return w.abort(1, line.replace(/^electra: /, `electra: rank ${w.rank}: `) + "\n");
}
