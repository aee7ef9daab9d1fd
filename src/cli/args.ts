/** Argument parsers and checks shared by the commands (commander calls the parsers with the raw string). */
import { existsSync, statSync } from "node:fs";
import { InvalidArgumentError } from "commander";

// InvalidArgumentError: commander reports it as one line naming the option, e.g.
// "error: option '--steps <n>' argument 'abc' is invalid. expected an integer, got abc"
export const int = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got ${v}`);
  return n;
};

/** Counts and sizes: `--batch-size 0` is refused here, naming the flag, not deep inside a kernel. */
export const positive = (v: string): number => {
  const n = int(v);
  if (n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${v}`);
  return n;
};

export const nonNegative = (v: string): number => {
  const n = int(v);
  if (n < 0) throw new InvalidArgumentError(`expected an integer of 0 or more, got ${v}`);
  return n;
};

export const num = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got ${v}`);
  return n;
};

/** The --dtype help of the commands that load a model (classify ..., serve, evaluate, predict). */
export const DTYPE_HELP = "fp32, or int8: the encoder's Linear layers in int8, a float32 folder quantized as it loads (see electra quantize) (default: what the folder holds)";

/** The --threads help: what src/core/native.ts uses when the flag is not given. */
export const THREADS_HELP = "threads (default: ELECTRA_THREADS, else OMP_NUM_THREADS, else all cores)";

/** The --mpi-timeout help (src/core/mpi.ts). */
export const MPI_TIMEOUT_HELP = "under mpirun: seconds a rank waits for the others in a training step before it ends the whole job, naming the rank that is dead or hung; 0: no bound (default: ELECTRA_MPI_TIMEOUT, else 300)";

/**
 * Throws one clear line when an input path given to a flag (or argument) is absent, before any work starts:
 * "--data-dir /x does not exist".
 */
export function mustExist(what: string, path: string, kind: "file" | "folder" | "file or folder" = "file or folder"): void {
  if (!existsSync(path)) throw new Error(`${what} ${path} does not exist`);
  if (kind === "folder" && !statSync(path).isDirectory()) throw new Error(`${what} ${path} is not a folder`);
  if (kind === "file" && statSync(path).isDirectory()) throw new Error(`${what} ${path} is a folder, not a file`);
}
