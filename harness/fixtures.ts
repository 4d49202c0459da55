// Test state: every sql/e2e file starts from empty tables and builds what it needs.
import { retryTransient } from "../functions/_shared/transient.ts";
import type { Sql } from "./db.ts";

/** Empties daybreak's tables and pg_net's, and puts the schedules back to the seeded default
 * (daily-batch disabled so the real clock can never start a run in the middle of a test). */
export async function resetState(sql: Sql): Promise<void> {
  // A processor a previous test kicked may still be writing: TRUNCATE's locks can then deadlock
  // with its transaction, and Postgres picks one of the two; the reset is simply done again.
  await retryTransient(async () => {
    await sql`truncate scheduler.batch_tasks, scheduler.batch_jobs, scheduler.scheduler_runs, scheduler.cron_ticks,
                     public.prompt_results, net.http_request_queue, net._http_response, vault.secrets,
                     daybreak_test.net_requests`;
    await sql`truncate scheduler.runs cascade`;
    await sql`truncate scheduler.processors, scheduler.provider_pace, scheduler.provider_seconds`;
    await sql`truncate public.organizations cascade`;
    await sql`delete from public.organization_providers`;
    await sql`update public.providers set fallback_provider = null`;
    await sql`delete from public.providers`;
    await sql`delete from scheduler.schedules where name <> 'daily-batch'`;
    await sql`update scheduler.schedules set timezone = 'America/New_York', window_start = '03:00', window_end = '06:00',
                   period = 'daily', weekday = null, enabled = false where name = 'daily-batch'`;
  }, { attempts: 8, baseDelayMs: 50 });
}

/** A daily schedule whose window is the whole UTC day, so real-clock calls are in the window. */
export async function createOpenSchedule(sql: Sql, name = "e2e-open"): Promise<string> {
  await sql`insert into scheduler.schedules (name, timezone, window_start, window_end, period, enabled)
            values (${name}, 'UTC', '00:00', '23:59:59.999999', 'daily', true)
            on conflict (name) do update set enabled = true`;
  return name;
}

export async function setVault(sql: Sql, functionsUrl: string, cronSecret: string): Promise<void> {
  await sql`delete from vault.secrets where name in ('daybreak_functions_url', 'daybreak_cron_secret')`;
  await sql`select vault.create_secret(${functionsUrl}, 'daybreak_functions_url')`;
  await sql`select vault.create_secret(${cronSecret}, 'daybreak_cron_secret')`;
}

export interface SeedOptions {
  organizations: number;
  promptsPerOrg: number;
  /** provider name → base URL; every organization uses every provider in region "global". */
  providers: Record<string, string>;
  regions?: string[];
}

export interface Seeded {
  orgIds: string[];
  expectedTasks: number;
}

export async function seedOrganizations(sql: Sql, o: SeedOptions): Promise<Seeded> {
  const regions = o.regions ?? ["global"];
  for (const [name, baseUrl] of Object.entries(o.providers)) {
    await sql`insert into public.providers (name, base_url, model, timeout_ms)
              values (${name}, ${baseUrl}, ${`${name}-model`}, 5000)
              on conflict (name) do update set base_url = excluded.base_url`;
  }
  const orgs = await sql<{ id: string }[]>`
    insert into public.organizations (name)
    select 'org-' || g from generate_series(1, ${o.organizations}::int) g
    returning id`;
  const orgIds = orgs.map((r) => r.id);
  await sql`
    insert into public.prompts (org_id, text)
    select org_id, 'prompt ' || g || ' of ' || org_id
      from unnest(${orgIds}::uuid[]) org_id cross join generate_series(1, ${o.promptsPerOrg}::int) g`;
  await sql`
    insert into public.organization_providers (org_id, provider, regions)
    select org_id, provider, ${regions}::text[]
      from unnest(${orgIds}::uuid[]) org_id cross join unnest(${Object.keys(o.providers)}::text[]) provider`;
  return { orgIds, expectedTasks: o.organizations * o.promptsPerOrg * Object.keys(o.providers).length * regions.length };
}

export async function countRows(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>[]>`
    select (select count(*)::int from scheduler.runs) as runs,
           (select count(*)::int from scheduler.scheduler_runs) as scheduler_runs,
           (select count(*)::int from scheduler.batch_jobs) as batch_jobs,
           (select count(*)::int from scheduler.batch_tasks) as batch_tasks,
           (select count(*)::int from scheduler.cron_ticks) as cron_ticks,
           (select count(*)::int from public.prompt_results) as prompt_results,
           (select count(*)::int from daybreak_test.net_requests) as net_requests`;
  return row!;
}
