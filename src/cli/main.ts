#!/usr/bin/env node
/** The `electra` command. Errors print one line (`electra: ...`); ELECTRA_DEBUG=1 shows the stack. */
import { buildProgram } from "./program.js";

buildProgram().parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error;
  console.error(`electra: ${err?.message ?? String(e)}`);
  if (process.env.ELECTRA_DEBUG) console.error(err?.stack);
  process.exit(1);
});
