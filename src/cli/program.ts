/** The `electra` command tree (src/cli/main.ts parses it; test/cli/help.test.ts checks every option's help). */
import { Command } from "commander";
import { convertCommand, inspectCommand, quantizeCommand } from "./checkpoint.js";
import { finetuneCommands } from "./finetune.js";
import { inferCommands, serveCommand } from "./infer.js";
import { demoCommand, pretrainCommand, vocabCommand } from "./pretrain.js";

/**
 * Commander checks required options before unknown ones, so `electra finetune --tsk sst2` would say
 * "required option '--task <name>' not specified" and hide the typo. This reports the unknown option first
 * (with commander's own message and "did you mean" suggestion); help flags still show the help.
 */
function unknownOptionsFirst(cmd: Command): Command {
  const parseOptions = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (argv: string[]) => {
    const parsed = parseOptions(argv);
    const first = parsed.unknown[0];
    const help = ["-h", "--help"];
    if (first !== undefined && first.startsWith("-") && !parsed.unknown.some((a) => help.includes(a))) {
      (cmd as Command & { unknownOption(flag: string): never }).unknownOption(first);
    }
    return parsed;
  };
  return cmd;
}

export function buildProgram(): Command {
  const program = new Command("electra")
    .description("ELECTRA in TypeScript: pretrain, fine-tune, evaluate, convert and serve")
    .showHelpAfterError("(run with --help for the options)")
    .configureHelp({ showGlobalOptions: true });
  const add = (cmd: Command, opts?: { isDefault?: boolean }) => {
    // addCommand (unlike .command()) does not pass the program's settings down: the help hint after an error included
    program.addCommand(unknownOptionsFirst(cmd.copyInheritedSettings(program)), opts);
  };
  add(demoCommand());
  add(pretrainCommand());
  for (const c of finetuneCommands()) add(c);
  add(vocabCommand());
  for (const c of inferCommands()) add(c);
  add(serveCommand());
  add(inspectCommand());
  add(convertCommand());
  add(quantizeCommand());
  // a mistyped command names the commands
  const parseOptions = program.parseOptions.bind(program);
  program.parseOptions = (argv: string[]) => {
    const parsed = parseOptions(argv);
    const first = parsed.operands[0];
    if (first !== undefined && first !== "help" && !program.commands.some((c) => c.name() === first || c.aliases().includes(first))) {
      const names = program.commands.map((c) => c.name()).join(", ");
      program.error(`error: unknown command '${first}' (the commands: ${names})`, { code: "commander.unknownCommand" });
    }
    return parsed;
  };
  return program;
}
