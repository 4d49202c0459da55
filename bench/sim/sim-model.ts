// One simulated model: admits or refuses a call against its key's windows, serves it after its
// drawn latency (queued first when the model has a capacity and it is full), and runs the other
// clients' traffic on the same key.
import { KeyLimits, type Verdict } from "./key-limits.ts";
import { callSeed, drawCall, loadedServiceMs, promptTokens, seeded, type CallDraw } from "./draws.ts";
import type { Kind } from "./kinds.ts";
import { ModelRecorder } from "./model-stats.ts";

const BACKGROUND_TICK_MS = 50;

export interface CallPlan {
  verdict: Verdict;
  promptTokens: number;
  completionTokens: number;
  draw: CallDraw;
}

export class SimModel {
  readonly limits: KeyLimits;
  readonly stats = new ModelRecorder();
  private readonly attempts = new Map<string, number>();
  private readonly waiting: (() => void)[] = [];
  private serving = 0;
  private backgroundTimer: NodeJS.Timeout | null = null;
  private backlog = 0;

  constructor(readonly name: string, readonly kind: Kind, private readonly seed: number) {
    this.limits = new KeyLimits(kind);
    if (kind.background && kind.requests) this.startBackground(kind.background.share * kind.requests.perMinute / 60_000);
  }

  /** Decides a call at `now`: its seeded draw, its token cost (capped by max_tokens) and the verdict. */
  plan(now: number, prompt: string, region: string, maxTokens: number | null): CallPlan {
    const key = `${region}\u0000${prompt}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const draw = drawCall(this.kind, seeded(callSeed(this.seed, this.name, prompt, region, attempt)));
    const completion = maxTokens === null ? draw.completionTokens : Math.min(maxTokens, draw.completionTokens);
    const p = promptTokens(prompt);
    this.stats.offer(now);
    const verdict = this.limits.admit(now, p + completion);
    if (verdict.ok) this.stats.admit(now, p + completion, false);
    else this.stats.refuse(verdict.by);
    return { verdict, promptTokens: p, completionTokens: completion, draw };
  }

  /** Waits for a serving slot (capacity), then the service time; resolves with the latency. */
  async serve(plan: CallPlan, cancelled: () => boolean): Promise<{ latencyMs: number } | null> {
    const arrived = Date.now();
    this.stats.started();
    if (this.kind.capacity !== undefined && this.serving >= this.kind.capacity) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.serving += 1;
    try {
      const serviceMs = loadedServiceMs(this.kind, plan.draw, this.stats.inFlight - 1);
      await new Promise((resolve) => setTimeout(resolve, serviceMs));
    } finally {
      this.serving -= 1;
      this.waiting.shift()?.();
    }
    if (cancelled()) {
      this.stats.abandoned(Date.now() - arrived);
      return null;
    }
    return { latencyMs: Date.now() - arrived };
  }

  /** Other clients: share × the request rate, steadily; what the key refuses them they send again. */
  private startBackground(perMs: number): void {
    let last = Date.now();
    this.backgroundTimer = setInterval(() => {
      const now = Date.now();
      // At most ten seconds of demand waits: other clients give up on older work.
      this.backlog = Math.min(this.backlog + perMs * (now - last), perMs * 10_000);
      last = now;
      while (this.backlog >= 1) {
        const verdict = this.limits.admit(now, 1);
        if (!verdict.ok) {
          this.stats.background.refused += 1;
          break;
        }
        this.stats.admit(now, 1, true);
        this.backlog -= 1;
      }
    }, BACKGROUND_TICK_MS);
  }

  stop(): void {
    if (this.backgroundTimer) clearInterval(this.backgroundTimer);
    this.backgroundTimer = null;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
