// The paced day's tables: one row per limit kind (median and range over the repeats), the passes,
// the no-limit search, the peers, fairness and the large day.
import { table } from "../../lib/report.ts";
import type { PacedDayResult } from "./index.ts";
import { formatSpread } from "./summary.ts";

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function render(r: PacedDayResult): string {
  const kinds = table(
    `Paced day: ${r.kinds.length} limit kinds, limits not configured, each repeat from nothing learned (${r.plan.repeats} repeats; median (min–max))`,
    ["kind", "stated limits", "tasks", "bound s", "makespan s", "η", "429 share", "offered ÷ window limit", "windows held", "settled in flight", "others' share"],
    r.summaries.map((s) => [
      s.kind, s.limits, s.tasks, formatSpread(s.boundSeconds, 1), formatSpread(s.makespanSeconds, 1), formatSpread(s.efficiency),
      s.rateLimitedShare.n ? `${pct(s.rateLimitedShare.median)} (max ${pct(s.rateLimitedShare.max)})` : "-",
      formatSpread(s.offeredOverLimit), s.limitsHeld ? "yes" : "NO", formatSpread(s.settledInFlight, 0), formatSpread(s.backgroundShare),
    ]),
  );
  const passes = table("Paced day: daybreak's passes", [
    "repeat", "makespan s", "tasks", "failed", "not terminal", "dup", "invocations", "CPU ms/task", "workers", "max worker CPU ms", "after retiring", "kills",
    "peak connections", "pg cores", "smallest orgs p99 ÷ makespan", "stop reasons",
  ], r.passes.map((p, i) => [
    i + 1, p.makespanSeconds, p.tasks, p.failed, p.notTerminal, p.duplicates, p.invocations, p.cpuMsPerTask ?? "-", p.workers, p.maxWorkerCpuMs, p.maxCpuAfterRetireMs ?? "-",
    Object.entries(p.workerKills).map(([k, v]) => `${k} ${v}`).join(", ") || "0", p.peakConnections, p.cpu.postgres ?? "-",
    p.fairness?.smallestP99 ?? "-", Object.entries(p.stopReasons).map(([k, v]) => `${k} ${v}`).join(", "),
  ]));
  const c = r.capacity;
  const search = table(`No-limit provider: fixed concurrency searched (golden-section on throughput ÷ latency); best ${c.bestConcurrency} ` +
    `(${c.bestThroughput}/s); daybreak settled at ${formatSpread(c.settledRatio)} × it`,
    ["concurrency", "throughput /s", "mean latency ms", "power"], c.search.tried.map((t) => [t.x, t.detail.throughput, t.detail.meanLatencyMs, t.value * 1000]));
  const peerRows = r.peers.systems.flatMap((s) => s.summaries.map((k) => [
    s.system, k.kind, `${s.bestFactor} × (${s.concurrency[k.kind]})`, s.search.map((x) => `${x.factor}: ${x.meanEfficiency}`).join("; "),
    formatSpread(k.makespanSeconds, 1), formatSpread(k.efficiency), `${pct(k.rateLimitedShare.median)} (max ${pct(k.rateLimitedShare.max)})`,
  ]));
  const daybreakRows = r.peers.kinds.map((k) => {
    const s = r.summaries.find((x) => x.kind === k)!;
    return ["daybreak", k, "found", "-", formatSpread(s.makespanSeconds, 1), formatSpread(s.efficiency), `${pct(s.rateLimitedShare.median)} (max ${pct(s.rateLimitedShare.max)})`];
  });
  const peers = table("Paced day: peers (Bottleneck per provider from the stated limits, concurrency tuned by the search), beside daybreak",
    ["system", "kind", "factor × (concurrency)", "search (factor: mean η)", "makespan s", "η", "429 share"], [...daybreakRows, ...peerRows]);
  const l = r.large;
  const large = table(`Large day: ${l.tasks.toLocaleString("en-US")} tasks, ${l.organizations.toLocaleString("en-US")} organizations, ` +
    `${l.providers} providers at ${l.requestsPerMinute.toLocaleString("en-US")}/min (configured)`,
    ["makespan s", "bound s", "makespan ÷ bound", "tasks/s", "429s", "processors running (median / peak)", "workers alive peak", "invocations",
      "CPU ms/task", "max worker CPU ms", "kills", "pg cores", "machine cores", "db share", "peak connections", "smallest orgs p99 ÷ makespan"],
    [[l.makespanSeconds, l.boundSeconds, l.ratio, l.tasksPerSecond, l.perProvider.reduce((n, p) => n + p.rateLimited, 0),
      `${l.pass.fleet?.medianRunning ?? "-"} / ${l.pass.fleet?.peakRunning ?? "-"}`, l.pass.fleet?.peakWorkersAlive ?? "-", l.pass.invocations,
      l.pass.cpuMsPerTask ?? "-", l.pass.maxWorkerCpuMs, Object.values(l.pass.workerKills).reduce((a, b) => a + b, 0),
      l.pass.cpu.postgres ?? "-", l.pass.cpu.machine ?? "-", l.databaseShare ?? "-", l.pass.peakConnections, l.pass.fairness?.smallestP99 ?? "-"]]);
  const fairRows = (label: string, f: PacedDayResult["large"]["pass"]["fairness"]) =>
    (f?.bySize ?? []).map((b, i) => [label, `${i + 1} of 5`, b.tasks, b.p50, b.p99]);
  const fairness = table("Fairness: organizations' completion ÷ makespan, by size (fifths, smallest first)",
    ["day", "fifth", "tasks per organization", "p50", "p99"],
    [...fairRows("kinds day, repeat 1", r.passes[0]?.fairness ?? null), ...fairRows("large day", l.pass.fairness)]);
  return [kinds, passes, search, peers, large, fairness, `\npaced day section: ${r.seconds} s`].join("\n");
}
