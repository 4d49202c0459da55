// The peers' share of the paced day: for each peer, the golden-section search over a concurrency
// factor (× the stated rate × the mean latency, per provider; best = highest mean η, i.e. shortest
// makespans), then more passes at the best factor. Their spread is over the best search pass and
// those repeats.
import { log } from "../../lib/report.ts";
import type { Kind } from "../../sim/kinds.ts";
import type { SimProcess } from "../../sim/process.ts";
import { MEAN_LATENCY_MS } from "./kinds.ts";
import { estimatedTokens } from "./peer-limiter.ts";
import { peerPass, type Peer, type PeerPass } from "./peers.ts";
import type { PacedPlan } from "./plan.ts";
import { goldenSectionMax } from "./search.ts";
import { summarizeKind, type KindSummary } from "./summary.ts";

export interface PeerSystemResult {
  system: Peer;
  search: { factor: number; meanEfficiency: number }[];
  bestFactor: number;
  concurrency: Record<string, number>;
  passes: PeerPass[];
  summaries: KindSummary[];
}

export interface PeersResult {
  kinds: string[];
  systems: PeerSystemResult[];
}

/** Calls in flight the stated limit needs (Little's law): the rate a user reads, × the mean latency. */
function baseConcurrency(kind: Kind, prompts: string[]): number {
  const meanTokens = prompts.reduce((n, p) => n + estimatedTokens(p), 0) / Math.max(1, prompts.length);
  const rates = [kind.requests ? kind.requests.perMinute / 60 : Infinity, kind.tokens ? kind.tokens.perMinute / 60 / meanTokens : Infinity];
  return Math.min(...rates) * (MEAN_LATENCY_MS / 1000);
}

export async function runPeers(
  sim: SimProcess, plan: PacedPlan, kinds: Record<string, Kind>, promptsOf: (provider: string) => Promise<string[]>,
): Promise<PeersResult> {
  const prompts: Record<string, string[]> = {};
  for (const k of plan.peers.kinds) prompts[k] = await promptsOf(k);
  const concurrencyAt = (factor: number) => Object.fromEntries(plan.peers.kinds.map((k) =>
    [k, Math.max(1, Math.ceil(factor * baseConcurrency(kinds[k]!, prompts[k]!)))]));
  const mean = (p: PeerPass) => p.providers.reduce((n, x) => n + (x.efficiency ?? 0), 0) / p.providers.length;
  const systems: PeerSystemResult[] = [];
  for (const system of ["pg-boss", "graphile-worker"] as const) {
    const searchPasses: PeerPass[] = [];
    const [lo, hi] = plan.peers.factorRange;
    const search = await goldenSectionMax(async (factor) => {
      log(`paced day: ${system} on ${plan.peers.kinds.join(", ")} at ${factor} × Little's law (search)`);
      const pass = await peerPass(system, sim, kinds, prompts, concurrencyAt(factor), factor);
      searchPasses.push(pass);
      return { value: mean(pass), detail: pass };
    }, lo, hi, plan.peers.evaluations, false);
    const passes = [search.detail];
    for (let r = 1; r <= plan.peers.repeats; r++) {
      log(`paced day: ${system} at the best factor ${search.best} (repeat ${r} of ${plan.peers.repeats})`);
      passes.push(await peerPass(system, sim, kinds, prompts, concurrencyAt(search.best), search.best));
    }
    systems.push({
      system,
      search: searchPasses.map((p) => ({ factor: p.factor, meanEfficiency: Math.round(mean(p) * 1000) / 1000 })),
      bestFactor: search.best,
      concurrency: concurrencyAt(search.best),
      passes,
      summaries: plan.peers.kinds.map((k) => summarizeKind(k, "", "", passes.map((p) => p.providers.find((x) => x.provider === k)!))),
    });
  }
  return { kinds: plan.peers.kinds, systems };
}
