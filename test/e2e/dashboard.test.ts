// daybreak-dashboard over real HTTP (Deno): who may read it, that the page carries no data or
// secret, and that the metrics parse as Prometheus text and say what the SQL views say.
import fs from "node:fs";
import path from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboardStack, type DashboardScenario, type DashboardStack } from "../helpers/dashboard-scenario.ts";
import type { Sql } from "../../harness/db.ts";
import { TEST_CRON_SECRET, TEST_METRICS_TOKEN, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

let sql: Sql;
let fns: DashboardStack["fns"];
let scenario: DashboardScenario;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ sql, fns, scenario, stop } = await startDashboardStack());
}, 120_000);
afterAll(async () => {
  await stop?.();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${fns.url}/daybreak-dashboard${path}`, { headers });

describe("access", () => {
  it("without or with wrong credentials: 401 and nothing else, for the data and the metrics", async () => {
    for (const path of ["/data", "/metrics"]) {
      const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong-credential-0123456789abcdefghij" }, { "x-cron-secret": "nope" }];
      for (const headers of attempts) {
        const res = await get(path, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.json()).toEqual({ error: "unauthorized" });
      }
    }
  });

  it("accepts the service-role key or the cron secret as a bearer token (how Prometheus scrapes)", async () => {
    for (const token of [TEST_SERVICE_ROLE_KEY, TEST_CRON_SECRET]) {
      const res = await get("/metrics", { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    }
  });

  it("the page is a sign-in shell: no data, no secret, no third-party reference, a strict CSP", async () => {
    const res = await get("");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain(TEST_CRON_SECRET);
    expect(html).not.toContain(TEST_SERVICE_ROLE_KEY);
    expect(html).not.toContain("org-1");
    expect(html).not.toContain(scenario.ran);
    // The only URL in it is the SVG namespace, a name, not a request.
    expect(new Set(html.match(/https?:\/\/[^"'\s)]+/g) ?? [])).toEqual(new Set(["http://www.w3.org/2000/svg"]));
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect((await fetch(`${fns.url}/daybreak-dashboard`, { method: "POST" })).status).toBe(405);
  });

  it("without a custom domain the page arrives as text/plain, as hosted Supabase serves it (scripts/dashboard is the way)", async () => {
    const res = await get("");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toMatch(/^<!doctype html>/);
    expect((await get("/data", { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` })).headers.get("content-type")).toMatch(/^application\/json/);
  });
});

describe("metrics", () => {
  it("parse as Prometheus text and agree with the SQL views", async () => {
    const res = await get("/metrics", { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` });
    const text = await res.text();
    const families = parsePrometheusTextFormat(text);
    const family = (name: string) => {
      const f = families.find((x) => x.name === name);
      expect(f, name).toBeDefined();
      return f!;
    };
    const value = (name: string, labels: Record<string, string> = {}) =>
      Number(family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? NaN);

    expect(family("daybreak_duplicate_results_stored_total").type).toBe("COUNTER");
    expect(value("daybreak_duplicate_results_stored_total")).toBe(0);
    const tasks = await sql<{ provider: string; status: string; n: number }[]>`
      select provider, status, count(*)::int as n from scheduler.batch_tasks group by 1, 2`;
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) expect(value("daybreak_tasks", { provider: t.provider, status: t.status }), `${t.provider}/${t.status}`).toBe(t.n);
    expect(value("daybreak_tasks", { provider: "beta", status: "failed" })).toBe(4);
    expect(value("daybreak_runs", { schedule: "daily-batch", status: "completed" })).toBe(2);
    expect(value("daybreak_runs", { schedule: "daily-batch", status: "completed_with_errors" })).toBe(1);
    const missed = await sql<{ n: number }[]>`
      select count(distinct run_key)::int as n from scheduler.v_daily_history where schedule = 'daily-batch' and day_status = 'missed'`;
    expect(value("daybreak_missed_periods", { schedule: "daily-batch" })).toBe(missed[0]!.n);
    expect(missed[0]!.n).toBeGreaterThanOrEqual(2);
    expect(value("daybreak_provider_calls_total", { provider: "beta", code: "400" })).toBe(4);
    expect(value("daybreak_provider_calls_total", { provider: "alpha", code: "200" })).toBe(12);
    expect(value("daybreak_live_runs")).toBe(0);
    expect(value("daybreak_stuck_batch_jobs")).toBe(0);
    const processors = await sql<{ status: string; stop_reason: string; n: number }[]>`
      select status, coalesce(stop_reason, '') as stop_reason, count(*)::int as n from scheduler.processors group by 1, 2`;
    expect(processors.length).toBeGreaterThan(0);
    for (const p of processors) expect(value("daybreak_processors", { status: p.status, stop_reason: p.stop_reason })).toBe(p.n);
    const [last] = await sql<{ t: number }[]>`
      select extract(epoch from max(completed_at))::float8 as t from scheduler.runs where schedule = 'daily-batch'`;
    expect(value("daybreak_last_completed_run_timestamp_seconds", { schedule: "daily-batch" })).toBeCloseTo(last!.t, 3);
    expect(family("daybreak_provider_latency_seconds").type).toBe("HISTOGRAM");
    // The parser folds every labelled histogram into one sample, so alpha's series are parsed on
    // their own, its label taken off.
    const alphaSeries = text.split("\n").filter((l) => l.startsWith("daybreak_provider_latency_seconds") && l.includes('provider="alpha"'))
      .map((l) => l.replace(/provider="alpha",?/, "").replace("{}", ""));
    const [alpha] = parsePrometheusTextFormat(["# TYPE daybreak_provider_latency_seconds histogram", ...alphaSeries, ""].join("\n"));
    const sample = alpha!.metrics[0]!;
    const [results] = await sql<{ n: number; sum: number }[]>`
      select count(*)::int as n, sum(latency_ms) / 1000.0 as sum from public.prompt_results where provider = 'alpha'`;
    expect(Number(sample.count)).toBe(results!.n);
    expect(results!.n).toBe(12);
    expect(Number(sample.sum)).toBeCloseTo(Number(results!.sum), 3);
    expect(Number(sample.buckets!["+Inf"])).toBe(12);
    const counts = Object.entries(sample.buckets!).filter(([le]) => le !== "+Inf").sort(([a], [b]) => Number(a) - Number(b)).map(([, n]) => Number(n));
    expect(counts.length).toBeGreaterThan(5);
    expect(counts.every((n, i) => i === 0 || n >= counts[i - 1]!)).toBe(true); // cumulative
  });

  it("every metric the Grafana dashboard (monitoring/grafana) queries exists in a live scrape", async () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, "monitoring/grafana/daybreak-dashboard.json"), "utf8")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\bdaybreak_[a-z_]+/g) ?? [])));
    expect(queried.size).toBeGreaterThan(8);
    const scraped = new Set((await (await get("/metrics", { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).text())
      .split("\n").filter((l) => l && !l.startsWith("#")).map((l) => /^[a-z_]+/.exec(l)![0]));
    for (const name of queried) expect(scraped, `${name} (queried by the Grafana dashboard)`).toContain(name);
  });
});

describe("organizations' own schedules on the page's data and in the metrics", () => {
  it("each one's next run (local, UTC) and last 30 local days; missed and scheduled counts as metrics", async () => {
    const [org] = await sql<{ id: string }[]>`insert into public.organizations (name) values ('dashboard-org') returning id`;
    await sql`select public.set_org_schedule(${org!.id}::uuid, 'daily-batch', 'America/Santiago', '05:30')`;
    await sql`insert into scheduler.missed_runs (schedule, org_id, run_key, due_at, recorded_at, reason)
              values ('daily-batch', ${org!.id}, to_char((now() at time zone 'America/Santiago')::date - 2, 'YYYY-MM-DD'),
                      now() - interval '2 days', now(), 'past the catch-up window (360 min)')`;
    try {
      const data = await (await get("/data", { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).json();
      expect(data.org_schedules_total).toBe(1);
      expect(data.org_schedules[0]).toMatchObject({ organization: "dashboard-org", timezone: "America/Santiago", missed_30d: 1 });
      expect(data.org_schedules[0].last_30).toMatch(/^·*M··$/);
      const text = await (await get("/metrics", { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).text();
      expect(text).toMatch(/^daybreak_org_missed_periods\{schedule="daily-batch"\} 1$/m);
      expect(text).toMatch(/^daybreak_org_schedules\{schedule="daily-batch",state="active"\} 1$/m);
      expect(text).toMatch(/^daybreak_org_overdue\{schedule="daily-batch"\} 0$/m);
    } finally {
      await sql`delete from public.organizations where id = ${org!.id}`;
    }
  });
});
