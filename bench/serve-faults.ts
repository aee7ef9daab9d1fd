/**
 * The long fault load of `electra serve` (issue 20): an ELECTRA-Small-sized generator with random weights
 * (bench/serve-harness.ts's smallModel) served on loopback as a child process; C concurrent clients send
 * /fill-mask requests back to back for D seconds, one in --bad-every of them bad (eight causes: an over-long
 * text, no [MASK], not a string, broken JSON, too many inputs, a bad top_k, one bad input among good ones, the
 * wrong route); then the server gets SIGTERM while they are still sending. Every answer is checked (good: 200
 * with what a direct Electra.fillMask call gives; bad: its 4xx), and the server's own count of what it received
 * and answered against what the clients got. Prints the report as one JSON line; exits 1 when anything is wrong.
 *
 *   node dist/bench/serve-faults.js [--clients 8] [--seconds 60] [--threads 2] [--bad-every 4]
 */
import { parseArgs } from "node:util";
import { Electra } from "../src/infer/electra.js";
import { faultLoad, goodTexts, overlongText, smallModel, startServe } from "./serve-harness.js";

const { values: a } = parseArgs({ options: {
  clients: { type: "string", default: "8" }, seconds: { type: "string", default: "60" }, threads: { type: "string", default: "2" },
  "bad-every": { type: "string", default: "4" },
} });
const seconds = Number(a.seconds), topK = 5, maxInputs = 16;
const dir = smallModel("generator");
const model = await Electra.load(dir, { threads: Number(a.threads) });
const good = await goodTexts(model, 50, topK);
const served = await startServe(["--model", dir, "--threads", a.threads!, "--max-inputs", String(maxInputs)]);
const report = await faultLoad({
  served, clients: Number(a.clients), seconds: seconds + 30, sigtermAfterS: seconds, good, overlong: overlongText(model), maxInputs, topK, badEvery: Number(a["bad-every"]),
});
console.log(JSON.stringify({ what: "serve /fill-mask, good and bad requests, SIGTERM under load", threads: Number(a.threads), ...report }));
if (report.problems.length) process.exitCode = 1;
