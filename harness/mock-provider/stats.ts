// What the mock saw, per model: calls by status, 429s, tokens served and the peak number of calls
// in flight at once (the figure that shows whether a client filled the provider's rate).

export interface ModelStats {
  calls: number;
  byStatus: Record<string, number>;
  rateLimited: number;
  tokens: number;
  inFlight: number;
  peakInFlight: number;
}

export interface MockStats {
  calls: number;
  rateLimited: number;
  inFlight: number;
  peakInFlight: number;
  models: Record<string, ModelStats>;
}

export class StatsRecorder {
  private models = new Map<string, ModelStats>();
  private inFlight = 0;
  private peak = 0;

  private of(model: string): ModelStats {
    let s = this.models.get(model);
    if (!s) {
      s = { calls: 0, byStatus: {}, rateLimited: 0, tokens: 0, inFlight: 0, peakInFlight: 0 };
      this.models.set(model, s);
    }
    return s;
  }

  answered(model: string, status: number | "hang", tokens = 0): void {
    const s = this.of(model);
    s.calls += 1;
    s.byStatus[String(status)] = (s.byStatus[String(status)] ?? 0) + 1;
    if (status === 429) s.rateLimited += 1;
    s.tokens += tokens;
  }

  /** A call admitted and being worked on; the returned function ends it. */
  started(model: string): () => void {
    const s = this.of(model);
    s.inFlight += 1;
    s.peakInFlight = Math.max(s.peakInFlight, s.inFlight);
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      s.inFlight -= 1;
      this.inFlight -= 1;
    };
  }

  snapshot(): MockStats {
    const models = Object.fromEntries([...this.models].map(([m, s]) => [m, { ...s, byStatus: { ...s.byStatus } }]));
    const all = [...this.models.values()];
    return {
      calls: all.reduce((n, s) => n + s.calls, 0),
      rateLimited: all.reduce((n, s) => n + s.rateLimited, 0),
      inFlight: this.inFlight,
      peakInFlight: this.peak,
      models,
    };
  }

  reset(): void {
    // In place: calls still in flight end through closures that hold these objects.
    for (const s of this.models.values()) {
      Object.assign(s, { calls: 0, byStatus: {}, rateLimited: 0, tokens: 0, peakInFlight: s.inFlight });
    }
    this.peak = this.inFlight;
  }
}
