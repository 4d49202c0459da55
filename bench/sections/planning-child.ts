// The calling process of the planning benchmark (a fresh Node process, as an edge function is):
// one scheduler.try_mark_daily_run call that claims a period and plans it, timed, with this
// process's peak memory and its Postgres backend's memory sampled from /proc while the call runs.
// Prints one JSON line. Run by sections/planning.ts with DATABASE_URL and PLAN_RUN_KEY set.
import { readFileSync } from "node:fs";
import postgres from "postgres";

interface BackendMemory {
  peakRssAnonKiB: number;
  peakRssKiB: number;
  hwmKiB: number;
}

function readStatus(pid: number): Record<string, number> | null {
  try {
    const fields: Record<string, number> = {};
    for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
      const m = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (m) fields[m[1]!] = Number(m[2]);
    }
    return fields;
  } catch {
    return null; // not on Linux, or the backend belongs to a user we cannot read
  }
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const runKey = process.env.PLAN_RUN_KEY;
  if (!url || !runKey) throw new Error("DATABASE_URL and PLAN_RUN_KEY are required");
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: "daybreak-bench-planner" } });
  try {
    const [b] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = b!.pid;
    const backend: BackendMemory = { peakRssAnonKiB: 0, peakRssKiB: 0, hwmKiB: 0 };
    const sample = () => {
      const s = readStatus(pid);
      if (!s) return;
      backend.peakRssAnonKiB = Math.max(backend.peakRssAnonKiB, s.RssAnon ?? 0);
      backend.peakRssKiB = Math.max(backend.peakRssKiB, s.VmRSS ?? 0);
      backend.hwmKiB = Math.max(backend.hwmKiB, s.VmHWM ?? 0);
    };
    sample();
    const rssBeforeKiB = Math.round(process.memoryUsage().rss / 1024);
    const timer = setInterval(sample, 10);
    const started = performance.now();
    const [row] = await sql<{ r: Record<string, unknown> }[]>`
      select scheduler.try_mark_daily_run('daily-batch'::text, ${runKey}::text) as r`;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(timer);
    sample();
    process.stdout.write(`${JSON.stringify({
      seconds,
      plan: row!.r,
      caller: { rssBeforeKiB, peakRssKiB: process.resourceUsage().maxRSS },
      backend: readStatus(pid) ? backend : null,
    })}\n`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
