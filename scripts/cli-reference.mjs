// Writes docs/cli.md, the command-line reference, from the commands' own --help (the built program in
// dist/src/cli/program.js): `npm run docs:cli`. test/cli/reference.test.ts fails when the file is stale.
//   node scripts/cli-reference.mjs [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { buildProgram } from "../dist/src/cli/program.js";

export function cliReference() {
  const program = buildProgram();
  // the help text as a non-terminal prints it (80 columns), whatever this terminal is
  const width = { getOutHelpWidth: () => 80, getErrHelpWidth: () => 80, getOutHasColors: () => false, getErrHasColors: () => false };
  program.configureOutput(width);
  const parts = [
    "# electra: command-line reference",
    "",
    "Generated from each command's `--help` by `npm run docs:cli` (scripts/cli-reference.mjs); a test fails when",
    "this file is out of date. `npx electra COMMAND --help` prints the same.",
    "",
    program.commands.map((c) => `[${c.name()}](#electra-${c.name()})`).join(" · "),
    "",
    "```",
    program.helpInformation().trimEnd(),
    "```",
  ];
  for (const c of program.commands) {
    c.configureOutput(width);
    parts.push("", `## electra ${c.name()}`, "", "```", c.helpInformation().trimEnd(), "```");
  }
  return parts.join("\n") + "\n";
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const text = cliReference();
  if (process.argv.includes("--check")) {
    if (readFileSync("docs/cli.md", "utf8") !== text) {
      console.error("docs/cli.md is out of date: run npm run docs:cli");
      process.exit(1);
    }
  } else writeFileSync("docs/cli.md", text);
}
