// The demo's view of each provider's pace (scheduler.v_provider_pace): calls, 429s, and the rate
// the shared pacer runs at against the provider's limit, live and at the end of the run.
import type { Sql } from "../../functions/_shared/db.ts";


export interface PaceRow {
  provider: string;
  planned: number;
  succeeded: number;
  failed: number;
  calls: number;
  rate_limited: number;
  paced_rpm: string | null;
  limit_rpm: number | null;
  limit_source: string | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

export async function readPace(sql: Sql, runId: string): Promise<PaceRow[]> {
  return await sql<PaceRow[]>`
    select provider, planned::int, succeeded::int, failed::int, calls::int, rate_limited::int, paced_rpm::text,
           limit_rpm, limit_source, latency_p50_ms, latency_p95_ms
      from scheduler.v_provider_pace where run_id = ${runId}::uuid order by provider`;
}

export function paceLine(rows: PaceRow[]): string {
  return rows.map((r) => `${r.provider.replace(/^mock-/, "")} ${r.calls} calls @ ${Math.round(Number(r.paced_rpm ?? 0))}` +
    `/${r.limit_rpm ?? "?"} per min${r.rate_limited ? ` (${r.rate_limited}×429)` : ""}`).join(" · ");
}

/** Rows for the demo's table, the last one the totals. */
export function paceTable(pace: PaceRow[]): { header: string[]; rows: string[][]; numeric: boolean[] } {
  const total = (key: "planned" | "succeeded" | "calls" | "rate_limited") => String(pace.reduce((n, r) => n + r[key], 0));
  return {
    header: ["provider", "tasks", "succeeded", "calls", "429s", "paced/min", "limit/min", "limit from", "p50 ms", "p95 ms"],
    rows: [
      ...pace.map((r) => [r.provider, String(r.planned), String(r.succeeded), String(r.calls), String(r.rate_limited),
        String(Math.round(Number(r.paced_rpm ?? 0))), String(r.limit_rpm ?? "-"), r.limit_source ?? "-",
        String(r.latency_p50_ms ?? "-"), String(r.latency_p95_ms ?? "-")]),
      ["total", total("planned"), total("succeeded"), total("calls"), total("rate_limited"), "", "", "", "", ""],
    ],
    numeric: [false, true, true, true, true, true, true, false, true, true],
  };
}
