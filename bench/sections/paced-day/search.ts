// The one automatic search the paced day tunes with: golden-section over one parameter (a
// concurrency, or a factor of one), each evaluation a real run, the best value kept. It tunes the
// peers' concurrency (shortest makespan) and finds the no-limit provider's best fixed concurrency
// (highest power, throughput ÷ latency: the most throughput before latency climbs), probed with a
// closed-loop client against the simulator.
import { round } from "../../lib/stats.ts";

export interface SearchResult<T> {
  best: number;
  value: number;
  detail: T;
  tried: { x: number; value: number; detail: T }[];
}

const PHI = (Math.sqrt(5) - 1) / 2;

/** Maximizes f over [lo, hi] with at most `evaluations` calls (integer x when `integer`). */
export async function goldenSectionMax<T>(
  f: (x: number) => Promise<{ value: number; detail: T }>, lo: number, hi: number, evaluations: number, integer: boolean,
): Promise<SearchResult<T>> {
  const tried = new Map<number, { value: number; detail: T }>();
  const snap = (x: number) => (integer ? Math.round(x) : round(x, 2));
  const at = async (x: number) => {
    const key = snap(x);
    if (!tried.has(key) && tried.size < evaluations) tried.set(key, await f(key));
    return tried.get(key)?.value ?? Number.NEGATIVE_INFINITY;
  };
  let a = lo;
  let b = hi;
  while (tried.size < evaluations && b - a > (integer ? 1 : 0.05)) {
    const c = b - PHI * (b - a);
    const d = a + PHI * (b - a);
    const [fc, fd] = [await at(c), await at(d)];
    if (fc >= fd) b = d;
    else a = c;
    if (snap(c) === snap(d) && tried.size >= 2) break;
  }
  if (tried.size === 0) await at((lo + hi) / 2);
  const list = [...tried].map(([x, r]) => ({ x, value: r.value, detail: r.detail })).sort((p, q) => p.x - q.x);
  const best = list.reduce((p, q) => (q.value > p.value ? q : p));
  return { best: best.x, value: best.value, detail: best.detail, tried: list };
}

export interface Probe {
  concurrency: number;
  throughput: number;
  meanLatencyMs: number;
}

/** A closed loop of `concurrency` callers against one model for `seconds` (the first second is
 * warm-up): completions per second and their mean latency. */
export async function probeConcurrency(baseUrl: string, model: string, prompts: string[], concurrency: number, seconds: number): Promise<Probe> {
  const start = Date.now();
  const warm = start + 1000;
  const end = start + seconds * 1000;
  let next = 0;
  let done = 0;
  let latency = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const prompt = prompts[next++ % prompts.length]!;
      const t = Date.now();
      const res = await fetch(`${baseUrl}/chat/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }] }),
      });
      await res.arrayBuffer();
      const now = Date.now();
      if (res.ok && now >= warm && now <= end) {
        done += 1;
        latency += now - t;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const measured = (end - warm) / 1000;
  return { concurrency, throughput: round(done / measured, 2), meanLatencyMs: done ? Math.round(latency / done) : 0 };
}
