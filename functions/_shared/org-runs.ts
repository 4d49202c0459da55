// Organizations' own schedules, as the trigger sees them: an organization's schedule row (for a
// forced run or a backfill of its own period) and the due pass, which claims every organization
// whose next run has come. Both go through the one gate, scheduler.try_mark_daily_run, which locks,
// claims, plans and advances in one transaction; this module only asks.
import type { Sql } from "./db.ts";
import { retryThroughOutage as durably } from "./transient.ts";

export interface OrgSchedule {
  timezone: string;
  paused: boolean;
}

export async function loadOrgSchedule(sql: Sql, schedule: string, orgId: string): Promise<OrgSchedule | null> {
  const [row] = await sql<OrgSchedule[]>`
    select timezone, paused from scheduler.org_schedules where schedule = ${schedule} and org_id = ${orgId}::uuid`;
  return row ?? null;
}

/** What one call's due pass did, summed over its transactions. */
export interface DuePassReport {
  due: number;
  started: number;
  catch_up: number;
  missed: number;
  already_ran: number;
  batch_jobs: number;
  tasks: number;
}

const EMPTY: DuePassReport = { due: 0, started: 0, catch_up: 0, missed: 0, already_ran: 0, batch_jobs: 0, tasks: 0 };
/** A pass takes at most 500 organizations per transaction; a call takes at most this many passes. */
const MAX_PASSES = 20;

/** Claims every organization of the schedule that is due at `now`, one transaction per pass of
 * at most 500. A pass whose commit was cut off is not redone: its organizations are no longer due. */
export async function claimDueOrganizations(
  sql: Sql, schedule: string, triggerSource: string, invocationId: string, note: string | null, now: Date,
): Promise<DuePassReport> {
  const total = { ...EMPTY };
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const report = await durably(async () => {
      const [row] = await sql<{ result: { organizations: DuePassReport & { remaining: boolean } } }[]>`
        select scheduler.try_mark_daily_run(${schedule}::text, null::text, ${triggerSource}::text, ${invocationId}::uuid,
                                            false, ${note}::text, null::uuid, ${now}::timestamptz) as result`;
      return row!.result.organizations;
    });
    for (const key of Object.keys(EMPTY) as (keyof DuePassReport)[]) total[key] += Number(report[key] ?? 0);
    if (!report.remaining) break;
  }
  return total;
}
