// Organizations' schedules under a fake clock: the expected instant of a local date and wall time
// (computed here independently of scheduler.local_instant, from the time zone database through
// date-fns-tz), and the due pass as the trigger calls it, from many connections at once.
import { formatInTimeZone, getTimezoneOffset } from "date-fns-tz";
import postgres from "postgres";
import { databaseUrl, type Sql } from "../../harness/db.ts";

const MINUTE = 60_000;

/** The stated rule: a wall time that exists twice runs at its first occurrence; one that does not
 * exist runs at the offset in force before the change (shifted later by the gap). */
export function expectedInstant(localDate: string, wallTime: string, timeZone: string): Date {
  const asUtc = Date.parse(`${localDate}T${wallTime}Z`);
  const wanted = `${localDate} ${wallTime}`;
  const valid: number[] = [];
  for (let offsetMin = -14 * 60; offsetMin <= 14 * 60; offsetMin += 15) {
    const instant = asUtc - offsetMin * MINUTE;
    if (formatInTimeZone(new Date(instant), timeZone, "yyyy-MM-dd HH:mm:ss") === wanted) valid.push(instant);
  }
  if (valid.length > 0) return new Date(Math.min(...valid));
  const offsetBefore = getTimezoneOffset(timeZone, new Date(asUtc - 24 * 60 * MINUTE));
  return new Date(asUtc - offsetBefore);
}

export interface DuePass {
  due: number;
  started: number;
  catch_up: number;
  missed: number;
  already_ran: number;
  remaining: boolean;
}

/** One due pass of a schedule at `now`, as the trigger makes it (the gate without run key or organization). */
export async function duePass(sql: Sql, now: Date, schedule = "daily-batch"): Promise<DuePass> {
  const [row] = await sql<{ r: { organizations: DuePass } }[]>`
    select scheduler.try_mark_daily_run(${schedule}::text, null::text, 'cron', null::uuid, false, null::text,
                                        null::uuid, ${now}::timestamptz) as r`;
  return row!.r.organizations;
}

/** n single connections, all open before the first race. */
export async function racers(n: number): Promise<Sql[]> {
  const clients = Array.from({ length: n }, () => postgres(databaseUrl(), { max: 1, onnotice: () => {} }) as Sql);
  await Promise.all(clients.map((c) => c`select 1`));
  return clients;
}

export interface OrgSpec {
  name: string;
  timezone: string;
  runAt: string;
  window?: number;
  catchUp?: "skip" | "once";
  catchUpMinutes?: number;
}

/** Organizations with one prompt and one provider each, and their own schedules set at `now`. */
export async function createScheduledOrgs(sql: Sql, specs: OrgSpec[], now: Date, schedule = "daily-batch"): Promise<Map<string, string>> {
  await sql`insert into public.providers (name, base_url, model) values ('prov-a', 'http://127.0.0.1:9/v1', 'm')
            on conflict (name) do nothing`;
  const ids = new Map<string, string>();
  for (const spec of specs) {
    const [org] = await sql<{ id: string }[]>`insert into public.organizations (name) values (${spec.name}) returning id`;
    ids.set(spec.name, org!.id);
    await sql`insert into public.prompts (org_id, text) values (${org!.id}, ${`a prompt of ${spec.name}`})`;
    await sql`insert into public.organization_providers (org_id, provider, regions) values (${org!.id}, 'prov-a', '{global}')`;
    await sql`select public.set_org_schedule(${org!.id}::uuid, ${schedule}, ${spec.timezone}, ${spec.runAt},
                                             ${spec.window ?? null}::int, ${spec.catchUp ?? null}, ${spec.catchUpMinutes ?? null}::int,
                                             null, null, ${now}::timestamptz)`;
  }
  return ids;
}

export function localDates(first: string, last: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 24 * 60 * MINUTE) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}
