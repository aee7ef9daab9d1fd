/**
 * `electra --help` and each command's `--help` list every flag with its default; unknown flags and missing files
 * give one clear line (no stack trace). The help checks walk the program src/cli/main.ts parses (buildProgram);
 * the error checks run the built CLI (dist/src/cli/main.js) as a user would.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, Option } from "commander";
import { buildProgram } from "../../src/cli/program.js";

/** The option's entry in rendered help: its first line (indent, flags) and the wrapped description lines below, joined. */
function helpEntry(helpText: string, flags: string): string | null {
  const lines = helpText.split("\n");
  const i = lines.findIndex((l) => l.trimStart().startsWith(flags + " ") || l.trim() === flags);
  if (i < 0) return null;
  const indent = lines[i].length - lines[i].trimStart().length;
  const entry = [lines[i]];
  // continuation lines are indented deeper than the flags column; the next option or section is not
  for (let j = i + 1; j < lines.length; j++) {
    const l = lines[j];
    if (l.trim() === "" || l.length - l.trimStart().length <= indent) break;
    entry.push(l);
  }
  return entry.map((l) => l.trim()).join(" ");
}

/**
 * What is missing from a command's options: each option that takes a value is mandatory or shows a default
 * (commander's "(default: ...)" from defaultValue / defaultValueDescription, or "default:" in its description);
 * each boolean flag shows its off state (a false default, so "(default: false)", or "default:" in the description).
 * Checks both the Option objects and the rendered help (cmd.helpInformation()).
 */
function optionProblems(cmd: Command): string[] {
  const problems: string[] = [];
  const name = cmd.name();
  const helpText = cmd.helpInformation();
  const help = cmd.createHelp();
  for (const o of cmd.options) {
    if (o.hidden) continue;
    const where = `${name} ${o.flags}`;
    const takesValue = o.required || o.optional;
    const declared = o.defaultValue !== undefined || o.defaultValueDescription !== undefined || /default:/i.test(o.description);
    const needsDefault = takesValue ? !o.mandatory : true;
    if (needsDefault && !declared) problems.push(`${where}: no default (give one, or say it in the description as "(default: ...)")`);
    const entry = helpEntry(helpText, o.flags);
    if (entry === null) {
      problems.push(`${where}: not in the rendered help`);
      continue;
    }
    if (!entry.includes(help.optionDescription(o).split(/\s+/)[0])) problems.push(`${where}: description not rendered with the flags`);
    if (needsDefault && !/default:/i.test(entry)) problems.push(`${where}: the rendered help shows no default: ${entry}`);
  }
  return problems;
}

function allCommands(): Command[] {
  const program = buildProgram();
  return [program, ...program.commands];
}

test("the checker flags a value option or a boolean flag without a default, and passes ones with defaults", () => {
  const scratch = new Command("scratch")
    .option("--size <n>", "a size")
    .option("--loud", "be loud")
    .option("--ok <n>", "has one", "3")
    .option("--ok-text <n>", "said in words (default: all cores)")
    .option("--quiet", "be quiet", false)
    .requiredOption("--must <x>", "mandatory, so exempt")
    .addOption(new Option("--kind <k>", "a choice").choices(["a", "b"]).default("a"));
  const problems = optionProblems(scratch);
  assert.ok(problems.some((p) => p.startsWith("scratch --size <n>: no default")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("scratch --size <n>: the rendered help shows no default")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("scratch --loud: no default")), problems.join("\n"));
  for (const fine of ["--ok", "--ok-text", "--quiet", "--must", "--kind"]) {
    assert.ok(!problems.some((p) => p.startsWith(`scratch ${fine} `)), `${fine} flagged: ${problems.join("\n")}`);
  }
  assert.equal(problems.length, 4, problems.join("\n"));
});

test("every command's help lists every option, with a default where one applies", () => {
  const commands = allCommands();
  const names = commands.map((c) => c.name());
  for (const n of ["electra", "demo", "pretrain", "finetune", "evaluate", "predict", "vocab", "classify", "detect", "fill-mask", "embed", "serve", "inspect", "convert"]) {
    assert.ok(names.includes(n), `command ${n} missing from the program`);
  }
  const problems = commands.flatMap(optionProblems);
  assert.deepEqual(problems, []);
  // the top-level help names every command
  const top = buildProgram().helpInformation();
  for (const c of commands.slice(1)) assert.match(top, new RegExp(`^  ${c.name()}\\b`, "m"), c.name());
});

// ---- the built CLI: errors are one line, no stack trace ----

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "electra-help-"));
const vocab = join(tmp, "vocab.txt");
writeFileSync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat"].join("\n") + "\n");

function run(...args: string[]) {
  const env = { ...process.env };
  delete env.ELECTRA_DEBUG; // the stack is shown only on request
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000, input: "", env });
  assert.equal(r.error, undefined, `electra ${args.join(" ")}: ${r.error?.message}`);
  return r;
}

/** Exit status not 0, no stack-trace line, and the first stderr line is `electra: ...` or `error: ...` containing `names`. */
function assertOneClearLine(args: string[], names: string): void {
  const r = run(...args);
  const what = `electra ${args.join(" ")}\n--- stderr:\n${r.stderr}`;
  assert.notEqual(r.status, 0, `exit status 0: ${what}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace: ${what}`);
  const first = r.stderr.split("\n")[0];
  assert.match(first, /^(electra|error): /, `first line: ${what}`);
  assert.ok(first.includes(names), `first line does not name ${names}: ${what}`);
  // besides the error, at most commander's suggestion and the help hint
  const rest = r.stderr.split("\n").slice(1).filter((l) => l.trim() !== "");
  assert.ok(rest.every((l) => l === "(run with --help for the options)" || /^\(Did you mean .*\?\)$/.test(l)), `extra lines: ${what}`);
}

test("a bare `electra` prints the help (it does not start the demo)", () => {
  const r = run();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: electra \[options\] \[command\]/);
  for (const c of ["demo", "pretrain", "finetune", "classify", "serve", "convert"]) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, "m"));
});

test("an unknown flag is named in one line, even when required options are missing too", () => {
  for (const cmd of ["finetune", "pretrain", "classify", "convert", "serve", "evaluate", "inspect"]) assertOneClearLine([cmd, "--no-such-flag"], "--no-such-flag");
  assertOneClearLine(["--no-such-flag"], "--no-such-flag");
  assertOneClearLine(["pretrian", "--steps", "1"], "pretrian"); // a mistyped command, not "too many arguments for 'demo'"
  // commander's "did you mean" survives
  assertOneClearLine(["finetune", "--data-dri", "x"], "--data-dri");
  assert.match(run("finetune", "--data-dri", "x").stderr, /^\(Did you mean --data-dir\?\)$/m);
  // a bad number names its option
  assertOneClearLine(["pretrain", "--vocab", vocab, "--out", join(tmp, "p"), "--steps", "many"], "--steps");
});

test("a missing model folder is named in one line", () => {
  for (const cmd of ["classify", "detect", "embed", "fill-mask"]) assertOneClearLine([cmd, "--model", "/nonexistent", "the [MASK] sat"], "/nonexistent");
  assertOneClearLine(["classify", "--model", "/nonexistent"], "/nonexistent"); // no texts: fails before reading standard input
  assertOneClearLine(["evaluate", "--task", "sst2", "--data-dir", tmp, "--model", "/nonexistent"], "/nonexistent");
  assertOneClearLine(["finetune", "--task", "sst2", "--data-dir", tmp, "--model", "/nonexistent", "--out", join(tmp, "f")], "/nonexistent");
});

test("a missing input file is named in one line", () => {
  assertOneClearLine(["inspect", "/nonexistent.safetensors"], "/nonexistent.safetensors");
  assertOneClearLine(["convert", "/nonexistent.bin", join(tmp, "x.safetensors")], "/nonexistent.bin");
  assertOneClearLine(["pretrain", "--corpus", "/nonexistent", "--vocab", vocab, "--config", "tiny", "--steps", "1", "--out", join(tmp, "pt")], "/nonexistent");
  assertOneClearLine(["pretrain", "--corpus", tmp, "--vocab", "/nonexistent/vocab.txt", "--steps", "1", "--out", join(tmp, "pt")], "/nonexistent/vocab.txt");
  assertOneClearLine(["finetune", "--task", "sst2", "--data-dir", "/nonexistent", "--config", "tiny", "--vocab", vocab, "--out", join(tmp, "ft")], "/nonexistent");
  assertOneClearLine(["classify", "--model", tmp, "--file", "/nonexistent.txt"], "/nonexistent.txt");
});
