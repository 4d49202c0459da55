// What the simulator saw for one model, so the bench can check a pass from the provider's side:
// calls and 429s, what every client got admitted in any window of 1, 10 and 60 s (daybreak's
// offered calls apart, refused ones included), the enforced windows' own peaks, latencies, the
// calls in flight over time and the concurrency the client settled at, successes per task.
import { peakInAlignedWindows, peakInAnyInterval } from "./windows.ts";
import type { RefusedBy } from "./key-limits.ts";

export const OBSERVED_WINDOWS = [1, 10, 60] as const;
type PerWindow = Record<"1s" | "10s" | "60s", number>;

export interface SimModelStats {
  calls: number;
  ok: number;
  rateLimited: number;
  refusedBy: Record<RefusedBy, number>;
  /** total_tokens of the answered calls: what the token limit was charged for daybreak's work. */
  tokens: number;
  maxLatencyMs: number;
  /** The longest the simulator took over a call, answered or abandoned by the client on the way
   * (a provider goes on generating a call its client cut off). */
  maxServedLatencyMs: number;
  p50LatencyMs: number | null;
  tailCalls: number;
  firstCallAt: number | null;
  lastAnswerAt: number | null;
  peakInFlight: number;
  /** Median calls in flight over the middle of the active period (50%–90% of it). */
  settledInFlight: number | null;
  /** Distinct tasks answered, and answers beyond one per task. */
  tasks: number;
  duplicateAnswers: number;
  /** Other clients' calls admitted (in all, and while this client was calling) and refused. */
  background: { admitted: number; admittedWhileCalling: number; refused: number };
  enforced: { requests: { limit: number; peak: number } | null; tokens: { limit: number; peak: number } | null };
  /** Most requests / tokens admitted (every client) in any interval, and in an aligned window, of each length. */
  admittedRequests: PerWindow;
  admittedRequestsAligned: PerWindow;
  admittedTokens: PerWindow;
  /** Most requests this client sent (refused ones too) in any interval of each length. */
  offeredRequests: PerWindow;
  /** Calls in flight, the most in each second since the first call. */
  inFlightPerSecond: number[];
}

export class ModelRecorder {
  calls = 0;
  ok = 0;
  rateLimited = 0;
  readonly refusedBy: Record<RefusedBy, number> = { requests: 0, tokens: 0 };
  tokens = 0;
  tailCalls = 0;
  private maxAbandonedLatencyMs = 0;
  inFlight = 0;
  peakInFlight = 0;
  firstCallAt: number | null = null;
  lastAnswerAt: number | null = null;
  readonly background = { admitted: 0, refused: 0 };
  private readonly latencies: number[] = [];
  private readonly offered: number[] = [];
  private readonly admitted: number[] = [];
  private readonly admittedCost: number[] = [];
  private readonly backgroundTimes: number[] = [];
  private readonly answersByTask = new Map<string, number>();
  private readonly samples: { at: number; n: number }[] = [];

  offer(now: number): void {
    this.calls += 1;
    this.firstCallAt ??= now;
    this.offered.push(now);
  }

  admit(now: number, tokens: number, background: boolean): void {
    this.admitted.push(now);
    this.admittedCost.push(tokens);
    if (background) {
      this.background.admitted += 1;
      this.backgroundTimes.push(now);
    }
  }

  refuse(by: RefusedBy): void {
    this.rateLimited += 1;
    this.refusedBy[by] += 1;
  }

  started(): void {
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
  }

  answered(now: number, latencyMs: number, tokens: number, task: string, tail: boolean): void {
    this.inFlight -= 1;
    this.ok += 1;
    this.tokens += tokens;
    if (tail) this.tailCalls += 1;
    this.latencies.push(latencyMs);
    this.lastAnswerAt = now;
    this.answersByTask.set(task, (this.answersByTask.get(task) ?? 0) + 1);
  }

  abandoned(latencyMs: number): void {
    this.inFlight -= 1;
    this.maxAbandonedLatencyMs = Math.max(this.maxAbandonedLatencyMs, latencyMs);
  }

  sample(now: number): void {
    if (this.firstCallAt !== null && (this.inFlight > 0 || now - (this.lastAnswerAt ?? 0) < 1000)) this.samples.push({ at: now, n: this.inFlight });
  }

  snapshot(enforced: SimModelStats["enforced"]): SimModelStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const per = (f: (w: number) => number): PerWindow => ({ "1s": f(1000), "10s": f(10_000), "60s": f(60_000) });
    let duplicateAnswers = 0;
    for (const n of this.answersByTask.values()) duplicateAnswers += n - 1;
    return {
      calls: this.calls,
      ok: this.ok,
      rateLimited: this.rateLimited,
      refusedBy: { ...this.refusedBy },
      tokens: this.tokens,
      maxLatencyMs: sorted.at(-1) ?? 0,
      maxServedLatencyMs: Math.max(sorted.at(-1) ?? 0, this.maxAbandonedLatencyMs),
      p50LatencyMs: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null,
      tailCalls: this.tailCalls,
      firstCallAt: this.firstCallAt,
      lastAnswerAt: this.lastAnswerAt,
      peakInFlight: this.peakInFlight,
      settledInFlight: this.settled(),
      tasks: this.answersByTask.size,
      duplicateAnswers,
      background: {
        ...this.background,
        admittedWhileCalling: this.firstCallAt === null ? 0
          : this.backgroundTimes.filter((t) => t >= this.firstCallAt! && t <= (this.lastAnswerAt ?? Infinity)).length,
      },
      enforced,
      admittedRequests: per((w) => peakInAnyInterval(this.admitted, null, w)),
      admittedRequestsAligned: per((w) => peakInAlignedWindows(this.admitted, null, w)),
      admittedTokens: per((w) => peakInAnyInterval(this.admitted, this.admittedCost, w)),
      offeredRequests: per((w) => peakInAnyInterval(this.offered, null, w)),
      inFlightPerSecond: this.perSecond(),
    };
  }

  private settled(): number | null {
    if (this.firstCallAt === null || this.lastAnswerAt === null) return null;
    const span = this.lastAnswerAt - this.firstCallAt;
    const from = this.firstCallAt + 0.5 * span;
    const to = this.firstCallAt + 0.9 * span;
    const mid = this.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.n).sort((a, b) => a - b);
    return mid.length ? mid[Math.floor(mid.length / 2)]! : null;
  }

  private perSecond(): number[] {
    if (this.firstCallAt === null) return [];
    const out: number[] = [];
    for (const s of this.samples) {
      const i = Math.floor((s.at - this.firstCallAt) / 1000);
      out[i] = Math.max(out[i] ?? 0, s.n);
    }
    return Array.from(out, (n) => n ?? 0);
  }
}
