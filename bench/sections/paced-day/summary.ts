// Spreads over repeated passes: per kind (daybreak) and per peer and kind, the median and the
// range of η, the 429 share, whether every window held, and for the no-limit provider the
// concurrency daybreak settled at against the best fixed one.
import { median, round } from "../../lib/stats.ts";
import type { ProviderFigures } from "./figures.ts";

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(samples: readonly (number | null)[]): Spread {
  const xs = samples.filter((x): x is number => x !== null && Number.isFinite(x));
  if (xs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: round(median(xs), 3), min: round(Math.min(...xs), 3), max: round(Math.max(...xs), 3), n: xs.length };
}

export function formatSpread(s: Spread, digits = 2): string {
  if (s.n === 0) return "-";
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export interface KindSummary {
  kind: string;
  what: string;
  tasks: number;
  /** The stated limits, as a user reads them. */
  limits: string;
  boundSeconds: Spread;
  makespanSeconds: Spread;
  efficiency: Spread;
  rateLimitedShare: Spread;
  limitsHeld: boolean;
  offeredOverLimit: Spread;
  settledInFlight: Spread;
  backgroundShare: Spread;
}

export function summarizeKind(kind: string, what: string, limits: string, passes: ProviderFigures[]): KindSummary {
  return {
    kind,
    what,
    tasks: passes[0]?.tasks ?? 0,
    limits,
    boundSeconds: spread(passes.map((p) => p.bound.seconds)),
    makespanSeconds: spread(passes.map((p) => p.makespanSeconds)),
    efficiency: spread(passes.map((p) => p.efficiency)),
    rateLimitedShare: spread(passes.map((p) => p.rateLimitedShare)),
    limitsHeld: passes.every((p) => p.limitsHeld),
    offeredOverLimit: spread(passes.map((p) => p.offeredOverLimit)),
    settledInFlight: spread(passes.map((p) => p.settledInFlight)),
    backgroundShare: spread(passes.map((p) => p.backgroundShare)),
  };
}
