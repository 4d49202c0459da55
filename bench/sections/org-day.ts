// Organizations' own schedules over one simulated UTC day: N organizations across 40 time zones
// (a hot spot of them at 00:00 Europe/Berlin, the rest at deterministic full hours), each with
// its own schedule. Every 5-minute instant of the day, scheduler.cron_trigger_tick(p_now) runs as
// pg_cron runs it; when it queues the trigger, the trigger's due pass is emulated in SQL
// (try_mark_daily_run without run key or organization, at most 500 per transaction, as the function
// makes it). Measured: the database time of a tick with nothing due (client round trip of the
// tick's one statement on the loopback), the time to claim and plan the busiest tick's organizations,
// and the HTTP requests queued for pg_net (none when nothing is due).
import { resetState, setVault } from "../../harness/fixtures.ts";
import { clearVault, type Sql } from "../lib/db.ts";
import { table } from "../lib/report.ts";
import { percentile } from "../lib/stats.ts";

export const ORG_DAY_ZONES = [
  "Europe/Berlin", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage",
  "Pacific/Honolulu", "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Mexico_City", "America/Toronto",
  "America/Bogota", "America/Santiago", "Atlantic/Azores", "Europe/London", "Europe/Lisbon", "Europe/Paris", "Europe/Athens",
  "Europe/Istanbul", "Europe/Moscow", "Africa/Cairo", "Africa/Lagos", "Africa/Johannesburg", "Asia/Dubai", "Asia/Tehran",
  "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai",
  "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham",
  "Pacific/Tongatapu", "Pacific/Kiritimati",
] as const;

export interface OrgDaySizes {
  organizations: number;
  /** Organizations at 00:00 Europe/Berlin: about a third of them fall in each of three ticks. */
  hotSpot: number;
  day: string;
}

export interface OrgDayResult {
  organizations: number;
  zones: number;
  setupSeconds: number;
  ticks: number;
  idleTickMs: { n: number; p50: number; p95: number; max: number };
  busiestTick: { at: string; started: number; ms: number; tickMs: number };
  runsStarted: number;
  organizationsWithoutRun: number;
  httpRequests: { idleTicks: number; trigger: number; processorKicks: number };
  target: { idleTickP95Ms: number; busiestPlanMs: number; busiestStarted: number; met: boolean };
}

export async function benchOrgDay(sql: Sql, s: OrgDaySizes): Promise<{ result: OrgDayResult; report: string }> {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "org-day-bench-secret-0123456789abcdefghijklmnop");
  const dayStart = Date.parse(`${s.day}T00:00:00Z`);
  try {
    const setupStart = performance.now();
    await sql`insert into public.providers (name, base_url, model) values ('org-day', 'http://127.0.0.1:9/v1', 'm')`;
    const orgs = await sql<{ id: string }[]>`
      insert into public.organizations (name) select 'org-day-' || g from generate_series(1, ${s.organizations}::int) g returning id`;
    const ids = orgs.map((o) => o.id);
    await sql`insert into public.prompts (org_id, text) select o, 'prompt ' || g from unnest(${ids}::uuid[]) o cross join generate_series(1, 2) g`;
    await sql`insert into public.organization_providers (org_id, provider, regions) select o, 'org-day', '{global}' from unnest(${ids}::uuid[]) o`;
    // Through the validating writer, as the service role would: the hot spot first, then the others.
    await sql`
      select public.set_org_schedule(o.id, 'daily-batch',
               case when o.n <= ${s.hotSpot} then 'Europe/Berlin' else (${ORG_DAY_ZONES as unknown as string[]}::text[])[1 + o.n % 40] end,
               case when o.n <= ${s.hotSpot} then '00:00' else to_char(time '00:00' + make_interval(hours => (o.n * 7 % 24)::int), 'HH24:MI') end,
               null, null, null, null, null, ${new Date(dayStart)}::timestamptz)
        from unnest(${ids}::uuid[]) with ordinality o(id, n)`;
    await sql`analyze scheduler.org_schedules`;
    await sql`truncate daybreak_test.net_requests`;
    const setupSeconds = Math.round((performance.now() - setupStart) / 100) / 10;

    const idle: number[] = [];
    let idleRequests = 0;
    let busiest = { at: "", started: 0, ms: 0, tickMs: 0 };
    let runsStarted = 0;
    const ticks = (24 * 60) / 5;
    for (let i = 1; i <= ticks; i++) {
      const now = new Date(dayStart + i * 300_000);
      const before = await queued(sql);
      const t0 = performance.now();
      const [tick] = await sql<{ d: { decision: string; run_key: string; organizations_due: boolean } }[]>`
        select d from jsonb_array_elements(scheduler.cron_trigger_tick(${now}::timestamptz)) d where d ->> 'schedule' = 'daily-batch'`;
      const tickMs = performance.now() - t0;
      if (tick!.d.decision !== "called") {
        idle.push(tickMs);
        idleRequests += (await queued(sql)) - before;
        continue;
      }
      // The global period (organizations without a schedule of their own: none here) as the trigger claims it.
      if (!tick!.d.organizations_due) {
        await sql`select scheduler.try_mark_daily_run('daily-batch', ${tick!.d.run_key}::text)`;
        continue;
      }
      let started = 0;
      const p0 = performance.now();
      for (let pass = 0; pass < 20; pass++) {
        const [row] = await sql<{ r: { organizations: { started: number; remaining: boolean } } }[]>`
          select scheduler.try_mark_daily_run('daily-batch', null, 'cron', null, false, null, null, ${now}::timestamptz) as r`;
        started += row!.r.organizations.started;
        if (!row!.r.organizations.remaining) break;
      }
      const ms = performance.now() - p0;
      runsStarted += started;
      if (started > busiest.started) busiest = { at: now.toISOString(), started, ms: Math.round(ms), tickMs: Math.round(tickMs * 100) / 100 };
    }
    const [counts] = await sql<{ without: number; trigger: number; kicks: number }[]>`
      select (select count(*)::int from scheduler.org_schedules o
               where not exists (select from scheduler.runs r where r.org_id = o.org_id)) as without,
             (select count(*)::int from daybreak_test.net_requests where url like '%/daily-batch-trigger') as trigger,
             (select count(*)::int from daybreak_test.net_requests where url like '%/robust-batch-processor') as kicks`;
    const round = (x: number) => Math.round(x * 100) / 100;
    const result: OrgDayResult = {
      organizations: s.organizations,
      zones: ORG_DAY_ZONES.length,
      setupSeconds,
      ticks,
      idleTickMs: { n: idle.length, p50: round(percentile(idle, 50)), p95: round(percentile(idle, 95)), max: round(Math.max(...idle)) },
      busiestTick: busiest,
      runsStarted,
      organizationsWithoutRun: counts!.without,
      httpRequests: { idleTicks: idleRequests, trigger: counts!.trigger, processorKicks: counts!.kicks },
      target: {
        idleTickP95Ms: round(percentile(idle, 95)), busiestPlanMs: busiest.ms, busiestStarted: busiest.started,
        met: percentile(idle, 95) < 20 && busiest.ms < 2000 && idleRequests === 0 && counts!.without === 0,
      },
    };
    return { result, report: render(result) };
  } finally {
    await clearVault(sql);
    await resetState(sql);
  }
}

async function queued(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from daybreak_test.net_requests`;
  return row!.n;
}

function render(r: OrgDayResult): string {
  return table(
    `Organization schedules: one UTC day, ${r.organizations.toLocaleString("en-US")} organizations in ${r.zones} time zones (set up in ${r.setupSeconds} s)`,
    ["what", "value"],
    [
      ["trigger ticks", r.ticks],
      ["ticks with nothing due", r.idleTickMs.n],
      ["  database time per idle tick p50 / p95 / max (ms)", `${r.idleTickMs.p50} / ${r.idleTickMs.p95} / ${r.idleTickMs.max}`],
      ["  HTTP requests queued by idle ticks", r.httpRequests.idleTicks],
      [`busiest tick ${r.busiestTick.at.slice(11, 16)} UTC: organizations claimed and planned`, r.busiestTick.started],
      ["  its due pass (ms)", r.busiestTick.ms],
      ["runs started over the day", r.runsStarted],
      ["organizations left without a run", r.organizationsWithoutRun],
      ["trigger calls queued / processor kicks", `${r.httpRequests.trigger} / ${r.httpRequests.processorKicks}`],
    ],
  );
}
