import type { Sql } from "./db.ts";
import type { Schedule } from "./window.ts";

export async function loadSchedule(sql: Sql, name: string): Promise<Schedule | null> {
  const [row] = await sql<Schedule[]>`
    select name, timezone, window_start::text as "windowStart", window_end::text as "windowEnd",
           period, weekday, enabled
      from scheduler.schedules where name = ${name}`;
  return row ?? null;
}
