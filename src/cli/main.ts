#!/usr/bin/env node
/**
 * The `electra` command. Errors print one line (`electra: ...`); ELECTRA_DEBUG=1 shows the stack. Under mpirun
 * every rank ends through src/core/mpi.ts (MPI_Finalize, or MPI_Abort for a failure of one rank).
 */
import { endWorld, failWorld } from "../core/mpi.js";
import { buildProgram } from "./program.js";

const program = buildProgram();
// a bare `electra` prints what it can do (the demo is `electra demo`)
if (process.argv.length <= 2) {
  program.outputHelp();
  process.exit(0);
}
program.parseAsync(process.argv).then(endWorld).catch((e: unknown) => {
  const err = e as Error;
  if (process.env.ELECTRA_DEBUG) console.error(err?.stack);
  failWorld(`electra: ${err?.message ?? String(e)}`, e);
});
