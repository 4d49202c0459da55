// Section "paced day": does daybreak find every limit on its own? One day with a simulated provider
// per limit kind (kinds.ts; the simulator, bench/sim/, enforces limits with window counters, not the
// pacer's token bucket), limits not configured, repeated with nothing learned; the no-limit
// provider's best fixed concurrency found by a search; pg-boss and graphile-worker on two kinds,
// tuned by the same search, behind a Bottleneck limiter per provider; fairness across organizations
// of skewed sizes; a large day measured. daybreak runs on the local edge runtime with the free
// plan's limits.
import { resetState } from "../../../harness/fixtures.ts";
import { analyzeSchemas, clearVault, type Sql } from "../../lib/db.ts";
import { log } from "../../lib/report.ts";
import { kindSchema, type Kind } from "../../sim/kinds.ts";
import { startSimProcess } from "../../sim/process.ts";
import { runDaybreakDay, type DaybreakPass } from "./daybreak-pass.ts";
import { providerFigures, type ProviderFigures } from "./figures.ts";
import { pacedKinds, type KindEntry } from "./kinds.ts";
import { largeDay, type LargeDay } from "./large-day.ts";
import type { PacedPlan } from "./plan.ts";
import { runPeers, type PeersResult } from "./peer-runs.ts";
import { render } from "./render.ts";
import { goldenSectionMax, probeConcurrency, type Probe, type SearchResult } from "./search.ts";
import { seedPacedDay } from "./seed.ts";
import { startDayServices, type DayServices } from "./services.ts";
import { spread, summarizeKind, type KindSummary, type Spread } from "./summary.ts";

export type { PacedPlan } from "./plan.ts";

export interface PacedDayResult {
  plan: PacedPlan;
  kinds: (Omit<KindEntry, "spec"> & { spec: Kind })[];
  summaries: KindSummary[];
  passes: (Omit<DaybreakPass, "sim"> & { providers: ProviderFigures[] })[];
  capacity: { search: SearchResult<Probe>; bestConcurrency: number; bestThroughput: number; settledRatio: Spread };
  fairness: { smallestP99: Spread };
  peers: PeersResult;
  large: LargeDay;
  seconds: number;
}

export function limitsText(k: Kind): string {
  const w = (l: NonNullable<Kind["requests"]>, unit: string) => `${l.perMinute.toLocaleString("en-US")} ${unit}/min (${l.mode} ${l.windowSeconds} s)`;
  const parts = [k.requests ? w(k.requests, "req") : null, k.tokens ? w(k.tokens, "tok") : null, k.capacity ? `capacity ${k.capacity}` : null];
  return parts.filter(Boolean).join(", ") + `, headers ${k.headers}`;
}

export async function benchPacedDay(sql: Sql, plan: PacedPlan): Promise<{ result: PacedDayResult; report: string }> {
  const started = Date.now();
  await resetState(sql);
  const sim = await startSimProcess();
  let services: DayServices | null = null;
  try {
    const names = pacedKinds(plan, 0);
    const minute = names.filter((k) => k.minute).map((k) => k.name);
    const seeded = await seedPacedDay(sql, sim.url, names.map((k) => k.name), [
      { label: "org", organizations: plan.organizations, prompts: plan.tasks, ratio: plan.sizeRatio, providers: names.map((k) => k.name) },
      { label: "minute-org", organizations: plan.minuteOrganizations, prompts: plan.minuteTasks - plan.tasks, ratio: plan.sizeRatio, providers: minute },
    ], plan.promptChars, 17);
    const entries = pacedKinds(plan, seeded.promptTokensByProvider.tokens!);
    const kinds: Record<string, Kind> = Object.fromEntries(entries.map((e) => [e.name, kindSchema.parse(e.spec)]));
    await sim.configure({ seed: 7, kinds });
    await analyzeSchemas(sql, "scheduler", "public");
    const promptsOf = async (provider: string) => (await sql<{ text: string }[]>`
      select p.text from public.prompts p join public.organization_providers op on op.org_id = p.org_id
       where op.provider = ${provider} order by p.id`).map((r) => r.text);

    log(`paced day: the no-limit provider's best fixed concurrency (golden-section, ${plan.capacitySearch.evaluations} probes)`);
    const noLimitPrompts = await promptsOf("no-limit");
    const search = await goldenSectionMax(async (c) => {
      const probe = await probeConcurrency(sim.url, "no-limit", noLimitPrompts, c, plan.capacitySearch.probeSeconds);
      return { value: probe.meanLatencyMs ? probe.throughput / probe.meanLatencyMs : 0, detail: probe };
    }, 1, plan.capacitySearch.maxConcurrency, plan.capacitySearch.evaluations, true);

    services = await startDayServices(sql, sim);
    const day = services;
    const passes: PacedDayResult["passes"] = [];
    for (let r = 1; r <= plan.repeats; r++) {
      log(`paced day: daybreak, ${entries.length} kinds, limits not configured, nothing learned (repeat ${r} of ${plan.repeats})`);
      const { sim: stats, ...pass } = await day.withRevival(`repeat ${r}`, () =>
        runDaybreakDay(sql, day, kinds, { note: `paced day (kinds, repeat ${r})` }));
      const providers = entries.map((e) => providerFigures(e.name, kinds[e.name]!, seeded.tasksByProvider[e.name]!, stats.models[e.name]!, pass.startedAt,
        e.name === "no-limit" ? search.detail.throughput : null));
      passes.push({ ...pass, providers });
      const eta = providers.map((p) => `${p.provider} ${p.efficiency ?? "-"}`).join(", ");
      log(`paced day: repeat ${r}: ${pass.makespanSeconds} s; η ${eta}`);
    }
    const summaries = entries.map((e) => summarizeKind(e.name, e.what, limitsText(kinds[e.name]!),
      passes.map((p) => p.providers.find((x) => x.provider === e.name)!)));
    const settled = passes.map((p) => p.providers.find((x) => x.provider === "no-limit")!.settledInFlight);

    const peers = await runPeers(sim, plan, kinds, promptsOf);
    const large = await largeDay(sql, day, plan.large);
    const result: PacedDayResult = {
      plan,
      kinds: entries.map((e) => ({ ...e, spec: kinds[e.name]! })),
      summaries,
      passes,
      capacity: {
        search, bestConcurrency: search.best, bestThroughput: search.detail.throughput,
        settledRatio: spread(settled.map((s) => (s === null ? null : s / search.best))),
      },
      fairness: { smallestP99: spread(passes.map((p) => p.fairness?.smallestP99 ?? null)) },
      peers,
      large,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    return { result, report: render(result) };
  } finally {
    await services?.stop();
    await clearVault(sql);
    await sim.stop();
    await resetState(sql);
  }
}
