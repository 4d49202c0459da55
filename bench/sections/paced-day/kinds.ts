// The limit kinds of the paced day, one simulated provider each, all in one day so they share the
// fleet as a real day's providers do. Each varies one thing from the reference (a sliding 10 s
// window, headers only on a 429, log-normal latency): the window (fixed or sliding, 1, 10 or 60 s),
// the headers (none, always), tokens per minute as the binding limit, 30% of the key taken by other
// clients, a heavy latency tail, no limit but a capacity. Limits are sized so the stated limit
// allows the kind's tasks in about the plan's target seconds (fewer tasks at higher limits scale a
// pass down).
import type { KindSpec } from "../../sim/kinds.ts";
import type { PacedPlan } from "./plan.ts";

export const LATENCY = { medianMs: 800, sigma: 0.5, loadSlope: 0.005 };
export const COMPLETION = { medianTokens: 200, sigma: 0.6, maxTokens: 1000 };
/** Mean of the log-normal latency: median × e^(σ²/2). */
export const MEAN_LATENCY_MS = LATENCY.medianMs * Math.exp((LATENCY.sigma ** 2) / 2);
const MEAN_COMPLETION = COMPLETION.medianTokens * Math.exp((COMPLETION.sigma ** 2) / 2);

export interface KindEntry {
  name: string;
  /** What it varies, for the tables. */
  what: string;
  spec: KindSpec;
  /** Gets the minute-window share of the day (more tasks, two windows' worth). */
  minute: boolean;
}

/** A per-minute limit allowing `tasks` in `seconds` to a client holding `share` of it, rounded up
 * to whole requests per second (so 1 s and 10 s windows divide it). */
function perMinuteFor(tasks: number, seconds: number, share = 1): number {
  return Math.ceil(tasks / seconds / share) * 60;
}

/** promptTokens: the tokens of the prompts the token-limited provider gets (about chars ÷ 4). */
export function pacedKinds(plan: PacedPlan, promptTokens: number): KindEntry[] {
  const rpm = perMinuteFor(plan.tasks, plan.targetSeconds);
  const minuteRpm = perMinuteFor(plan.minuteTasks, plan.minuteTargetSeconds);
  const reference = { headers: "on429" as const, latency: LATENCY, completion: COMPLETION };
  const window = (mode: "fixed" | "sliding", seconds: number, perMinute = rpm) => ({ mode, windowSeconds: seconds, perMinute });
  const tokensPerMinute = Math.ceil(((promptTokens + plan.tasks * MEAN_COMPLETION) * 60) / plan.targetSeconds / 600) * 600;
  const capacity = Math.ceil(1.6 * (plan.tasks / plan.targetSeconds) * (MEAN_LATENCY_MS / 1000));
  const entries: KindEntry[] = [];
  for (const mode of ["fixed", "sliding"] as const) {
    for (const seconds of [1, 10, 60]) {
      const minute = seconds === 60;
      entries.push({
        name: `${mode}-${seconds}s`, what: `${mode} window of ${seconds} s`, minute,
        spec: { ...reference, requests: window(mode, seconds, minute ? minuteRpm : rpm) },
      });
    }
  }
  entries.push(
    { name: "headers-none", what: "no rate-limit headers, not even retry-after", minute: false, spec: { ...reference, headers: "none", requests: window("sliding", 10) } },
    { name: "headers-always", what: "x-ratelimit-* on every answer", minute: false, spec: { ...reference, headers: "always", requests: window("sliding", 10) } },
    {
      name: "tokens", what: "tokens per minute binding (requests at 2×), prompts of very different lengths", minute: false,
      spec: { ...reference, requests: window("sliding", 10, 2 * rpm), tokens: window("sliding", 10, tokensPerMinute) },
    },
    {
      name: "background", what: "other clients take 30% of the key; remaining falls for them", minute: false,
      spec: { ...reference, headers: "always", background: { share: 0.3 }, requests: window("sliding", 10, perMinuteFor(plan.tasks, plan.targetSeconds, 0.7)) },
    },
    {
      name: "heavy-tail", what: "1% of calls 10–20 s, latency ×(1 + 2% per call in flight)", minute: false,
      spec: { ...reference, requests: window("sliding", 10), latency: { ...LATENCY, loadSlope: 0.02, tail: { share: 0.01, minMs: 10_000, maxMs: 20_000 } } },
    },
    {
      name: "no-limit", what: `no limit, no headers; ${capacity} calls served at once, the rest queue`, minute: false,
      spec: { headers: "none", capacity, latency: { ...LATENCY, loadSlope: 0 }, completion: COMPLETION },
    },
  );
  return entries;
}
