// Merges soaks run side by side (each on its own cluster, with its own seed) into one result:
// tsx bench/soak/merge.ts OUT IN1 IN2 ... Runs are renumbered; every run keeps its records.
import { readFileSync } from "node:fs";
import { writeResults } from "../lib/report.ts";
import { renderSoakTable, summarize, type SoakSummary } from "./report.ts";

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) throw new Error("usage: tsx bench/soak/merge.ts OUT IN1 [IN2 ...]");
const parts = inputs.map((file) => JSON.parse(readFileSync(file, "utf8")) as SoakSummary);
const records = parts.flatMap((p) => p.run_records).map((r, index) => ({ ...r, index }));
const summary = summarize(records, {
  date: parts.map((p) => p.date).sort()[0]!,
  commit: [...new Set(parts.map((p) => p.commit))].join("+"),
  // The shared options; each soak's own seed and run count are listed side by side.
  options: {
    ...Object.fromEntries(Object.entries(parts[0]!.options).filter(([k]) => k !== "runs" && k !== "seed")),
    side_by_side: parts.map((p) => ({ seed: p.options.seed, runs: p.runs, commit: p.commit, finished: p.finished })),
  },
  finished: parts.every((p) => p.finished),
});
writeResults(out, summary);
process.stdout.write(`${renderSoakTable(summary)}\n`);
