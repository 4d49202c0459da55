// Organizations' own schedules, for the status page and scripts/status alike: each one's next run
// in its local time and in UTC, and its last 30 local days as one character each (R ran, M missed,
// · nothing: not yet scheduled, paused, or moved by an edit), the ones with missed periods first.
import type { Sql } from "../db.ts";

type Row = Record<string, unknown>;

export async function readOrgSchedules(sql: Sql, limit: number): Promise<{ total: number; rows: Row[] }> {
  const [{ total }] = await sql<{ total: number }[]>`select count(*)::int as total from scheduler.org_schedules`;
  if (total === 0) return { total, rows: [] };
  const rows = await sql<Row[]>`
    select s.organization, s.org_id::text as org_id, s.schedule, s.timezone, s.run_at, s.paused, s.catch_up,
           s.next_run_local, s.next_run_utc, s.ran_30d, s.missed_30d,
           (select string_agg(case h.day_status when 'ran' then 'R' when 'missed' then 'M' else '·' end, '' order by k.key)
              from (select distinct scheduler.period_key(sc.period, (now() at time zone s.timezone)::date - g) as key
                      from generate_series(0, 29) g) k
              left join scheduler.v_org_history h on h.schedule = s.schedule and h.org_id = s.org_id and h.run_key = k.key) as last_30
      from scheduler.v_org_schedules s
      join scheduler.schedules sc on sc.name = s.schedule
     order by s.missed_30d desc, s.next_run_at, s.organization
     limit ${limit}`;
  return { total, rows: [...rows] };
}
