#!/usr/bin/env node
/** The `electra` command. Errors print one line (`electra: ...`); ELECTRA_DEBUG=1 shows the stack. */
import { Command } from "commander";
import { convertCommand, inspectCommand } from "./checkpoint.js";
import { finetuneCommands } from "./finetune.js";
import { inferCommands, serveCommand } from "./infer.js";
import { demoCommand, pretrainCommand, vocabCommand } from "./pretrain.js";

const program = new Command("electra")
  .description("ELECTRA in TypeScript: pretrain, fine-tune, evaluate, convert and serve")
  .showHelpAfterError("(run with --help for the options)")
  .configureHelp({ showGlobalOptions: true });
program.addCommand(demoCommand(), { isDefault: true });
program.addCommand(pretrainCommand());
for (const c of finetuneCommands()) program.addCommand(c);
program.addCommand(vocabCommand());
for (const c of inferCommands()) program.addCommand(c);
program.addCommand(serveCommand());
program.addCommand(inspectCommand());
program.addCommand(convertCommand());

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error;
  console.error(`electra: ${err?.message ?? String(e)}`);
  if (process.env.ELECTRA_DEBUG) console.error(err?.stack);
  process.exit(1);
});
