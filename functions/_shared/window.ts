// The execution window and period keys in TypeScript, with date-fns-tz. The SQL twins
// (scheduler.is_in_execution_window, scheduler.current_run_key) must agree at every instant;
// test/unit/window.sql-agreement walks a whole year of 5-minute ticks to prove it.
import { formatInTimeZone } from "date-fns-tz";
// date-fns-tz takes date-fns as a peer dependency. Importing it puts it in the module graph, so
// Deno (here and in hosted's bundler) resolves the peer to the version functions/import_map.json
// pins, not to the newest one on the day of the bundle.
import "date-fns";

export type Period = "daily" | "weekly";

export interface Schedule {
  name: string;
  timezone: string;
  /** "HH:MM:SS" local wall-clock time, inclusive. */
  windowStart: string;
  /** "HH:MM:SS" local wall-clock time, exclusive. */
  windowEnd: string;
  period: Period;
  /** ISO day of week (1 = Monday) for weekly schedules. */
  weekday: number | null;
  enabled: boolean;
}

export interface LocalMoment {
  date: string; // yyyy-MM-dd
  time: string; // HH:mm:ss.SSS
  isoWeekday: number;
  isoWeekKey: string; // RRRR-'W'II
}

export function localMoment(now: Date, timezone: string): LocalMoment {
  const [date, time, weekday, weekKey] = formatInTimeZone(now, timezone, "yyyy-MM-dd|HH:mm:ss.SSS|i|RRRR-'W'II").split("|");
  return { date: date!, time: time!, isoWeekday: Number(weekday), isoWeekKey: weekKey! };
}

function normalizeTime(t: string): string {
  // Postgres sends "03:00:00"; compare as HH:mm:ss.SSS so string order is time order.
  const [hms, fraction = ""] = t.split(".");
  return `${hms}.${fraction.padEnd(3, "0").slice(0, 3)}`;
}

export function isInExecutionWindow(schedule: Schedule, now: Date): boolean {
  const local = localMoment(now, schedule.timezone);
  if (schedule.period === "weekly" && local.isoWeekday !== schedule.weekday) return false;
  return local.time >= normalizeTime(schedule.windowStart) && local.time < normalizeTime(schedule.windowEnd);
}

export function currentRunKey(schedule: Pick<Schedule, "timezone" | "period">, now: Date): string {
  const local = localMoment(now, schedule.timezone);
  return schedule.period === "daily" ? local.date : local.isoWeekKey;
}

const DAILY_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;
const WEEKLY_KEY = /^(\d{4})-W(\d{2})$/;

/** First day (UTC midnight of the local date) of the period a run key names, or null if malformed. */
export function periodStartDate(period: Period, runKey: string): Date | null {
  if (period === "daily") {
    const m = DAILY_KEY.exec(runKey);
    if (!m) return null;
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return d.toISOString().slice(0, 10) === runKey ? d : null;
  }
  const m = WEEKLY_KEY.exec(runKey);
  if (!m) return null;
  const jan4 = new Date(Date.UTC(Number(m[1]), 0, 4));
  const monday = new Date(jan4.getTime() - (((jan4.getUTCDay() + 6) % 7) * 86_400_000));
  const start = new Date(monday.getTime() + (Number(m[2]) - 1) * 7 * 86_400_000);
  return currentRunKey({ timezone: "UTC", period: "weekly" }, start) === runKey ? start : null;
}

/** Why a backfill run key is not acceptable now, or null when it is. */
export function backfillProblem(schedule: Schedule, runKey: string, now: Date, maxDaysBack: number): string | null {
  const start = periodStartDate(schedule.period, runKey);
  if (!start) {
    return `run_key "${runKey}" is not a valid ${schedule.period === "daily" ? "YYYY-MM-DD date" : "YYYY-Www ISO week"}`;
  }
  const current = currentRunKey(schedule, now);
  if (runKey > current) return `run_key "${runKey}" is in the future (current period is ${current})`;
  const today = periodStartDate("daily", localMoment(now, schedule.timezone).date)!;
  const daysBack = Math.round((today.getTime() - start.getTime()) / 86_400_000);
  if (schedule.period === "daily" && daysBack > maxDaysBack) {
    return `run_key "${runKey}" is ${daysBack} days back; backfill is limited to ${maxDaysBack} days`;
  }
  if (schedule.period === "weekly" && daysBack > maxDaysBack + 6) {
    return `run_key "${runKey}" is more than ${maxDaysBack} days back; backfill is limited to ${maxDaysBack} days`;
  }
  return null;
}
