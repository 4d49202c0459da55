// The full soak's plan (--full): every run gets three faults at fixed moments, their kinds dealt
// from a seeded, shuffled deck of every kind whose recovery is measured, so each kind comes up as
// often as the others within one soak (within one card), whatever its seed. A soak of 40 runs
// deals ~9 of each; five run side by side (bench/soak/merge.ts) give ~45 of each, enough for 30
// measured (not overlapped) recoveries per kind. A random draw gave ~20 per kind over 200 runs.
import { PACE_MEASURED, type FaultKind, type PlannedFault, type RunPlan } from "./faults.ts";

/** The three moments, as fractions of the run's time after its first 10 s (a full run is ~125 s
 * without faults): ~15, ~53 and ~91 s in, ~38 s apart, so a kill's 20–30 s recovery is usually
 * over before the next fault strikes, and the last still has work after it to measure. */
export const FULL_SLOTS = [0.04, 0.37, 0.7] as const;
/** Every CANCEL_EVERY-th run ends in a cancel, in its last slot (a cancel ends the run, so it can
 * only come last, and each one costs a measured fault). */
export const CANCEL_EVERY = 8;
/** Every PAUSE_EVERY-th run also has its schedule paused between its first two faults: it cannot
 * touch a live run and is not counted, so it takes no slot. */
export const PAUSE_EVERY = 10;

export class BalancedPlanner {
  private deck: FaultKind[] = [];

  constructor(private readonly random: () => number) {}

  /** Run `index` of the soak (0-based): plans must be asked for in order, as they share the deck. */
  plan(index: number): RunPlan {
    const cancels = index % CANCEL_EVERY === CANCEL_EVERY - 1;
    const faults: PlannedFault[] = FULL_SLOTS.map((at, slot) => ({
      kind: cancels && slot === FULL_SLOTS.length - 1 ? "run_cancelled" : this.deal(),
      at,
      forMs: Math.round(1000 + this.random() * 9000),
      calls: 5 + Math.floor(this.random() * 40),
    }));
    if (index % PAUSE_EVERY === PAUSE_EVERY - 1) {
      faults.splice(1, 0, { kind: "schedule_paused", at: (FULL_SLOTS[0] + FULL_SLOTS[1]) / 2, forMs: 0, calls: 0 });
    }
    return { raceStart: this.random() < 0.35, faults };
  }

  private deal(): FaultKind {
    if (this.deck.length === 0) this.deck = shuffled(PACE_MEASURED, this.random);
    return this.deck.pop()!;
  }
}

/** Fisher–Yates with the soak's seeded random. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
