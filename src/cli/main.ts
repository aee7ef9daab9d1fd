#!/usr/bin/env node
/** The `electra` command. Errors print one line (`electra: ...`); ELECTRA_DEBUG=1 shows the stack. */
import { buildProgram } from "./program.js";

const program = buildProgram();
// a bare `electra` prints what it can do (the demo is `electra demo`)
if (process.argv.length <= 2) {
  program.outputHelp();
  process.exit(0);
}
program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error;
  console.error(`electra: ${err?.message ?? String(e)}`);
  if (process.env.ELECTRA_DEBUG) console.error(err?.stack);
  process.exit(1);
});
