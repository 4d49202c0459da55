// Every runnable block of RUNBOOK.md (```sql runbook / ```bash runbook), in order, against a local
// stack, with the state each procedure is about (a stuck job, failed tasks...) created first.
// Also runs every query in sql/monitoring/.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { connect, databaseUrl, type Sql, waitFor } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { DEFAULT_CONFIG, duplicateResults, holdBatchJob, setConfig, waitForRunEnd } from "../../harness/runs.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";

interface Block {
  section: number;
  title: string;
  lang: "sql" | "bash";
  code: string;
}

function runbookBlocks(): Block[] {
  const text = fs.readFileSync(path.join(ROOT, "RUNBOOK.md"), "utf8");
  const blocks: Block[] = [];
  let section = 0;
  let title = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (\d+)\. (.*)$/.exec(lines[i]!);
    if (heading) {
      section = Number(heading[1]);
      title = heading[2]!;
      continue;
    }
    const fence = /^```(sql|bash) runbook\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const code: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) code.push(lines[i]!);
    blocks.push({ section, title, lang: fence[1] as "sql" | "bash", code: code.join("\n") });
  }
  return blocks;
}

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>>;

async function runWithoutKicks(runKey: string, note: string): Promise<string> {
  await setConfig(sql, { max_processor_invocations: 0 }); // the fleet may have no invocation: none is kicked
  const [row] = await sql`select scheduler.try_mark_daily_run('daily-batch', ${runKey}, 'manual', null, true, ${note}) as r`;
  await setConfig(sql, { max_processor_invocations: DEFAULT_CONFIG.max_processor_invocations });
  return row!.r.run_id as string;
}

// The state each section's procedure is about, created just before its blocks run.
const setups: Record<number, () => Promise<void>> = {
  1: async () => {
    // A healthy stack has today's run done.
    const res = await fetch(`${fns.url}/daily-batch-trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "x-manual-call": "true" },
      body: JSON.stringify({ force: true, note: "runbook: today's run" }),
    });
    const body = await res.json();
    expect(body.status, JSON.stringify(body)).toBe("started");
    expect(await waitForRunEnd(sql, body.run_id)).toBe("completed");
  },
  5: async () => {
    // Section 1's fleet stops once the day is done; a stuck job is one no live processor serves.
    await waitFor("the fleet to stop", () => sql`select scheduler.live_processor_count() as n`, (r) => r[0]!.n === 0, 60_000, 200);
    const stuckRun = await runWithoutKicks(daysAgo(5), "runbook: stuck");
    const { batchJobId } = await holdBatchJob(sql, "dead-worker", 0);
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${batchJobId}`;
    await sql`update scheduler.batch_jobs set created_at = now() - interval '4 minutes' where run_id = ${stuckRun}`;
    expect(await sql`select * from scheduler.v_stuck_batch_jobs`).not.toHaveLength(0);
    await runWithoutKicks(daysAgo(6), "runbook: cancel me");
  },
  6: async () => {
    // Section 5's resume kicked the fleet, which works every provider's queue; the outage below
    // must not hit the stuck run's last calls.
    await waitFor("the resumed stuck run to complete",
      () => sql`select status from scheduler.runs where note = 'runbook: stuck'`, (r) => r[0]?.status === "completed", 60_000, 200);
    mock.setRules([{ model: "beta-model", status: 500 }]);
    const runId = await runWithoutKicks(daysAgo(7), "runbook: provider outage");
    await sql`select scheduler.ensure_processor_fleet('manual', 4)`;
    expect(await waitForRunEnd(sql, runId)).toBe("completed_with_errors");
    mock.setRules([]);
  },
};

beforeAll(async () => {
  sql = connect();
  await resetState(sql);
  await setConfig(sql, DEFAULT_CONFIG);
  mock = await startMockProvider({ latencyMs: 0 });
  fns = await startFunctions({ DAYBREAK_RETRY_BASE_DELAY_MS: "10" });
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  await seedOrganizations(sql, { organizations: 3, promptsPerOrg: 2, providers: { alpha: mock.url, beta: mock.url } });
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
  await sql`select cron.alter_job(jobid, active := true) from cron.job where jobname like 'daybreak-%'`;
});
afterAll(async () => {
  await sql`select cron.alter_job(jobid, active := false) from cron.job where jobname like 'daybreak-%'`;
  await setConfig(sql, DEFAULT_CONFIG);
  await fns?.stop();
  await mock?.close();
  await sql?.end();
});

describe("RUNBOOK.md", () => {
  const blocks = runbookBlocks();

  it("has runnable blocks for every procedure", () => {
    const sections = new Set(blocks.map((b) => b.section));
    for (let s = 1; s <= 13; s++) expect(sections.has(s), `section ${s}`).toBe(true);
  });

  it("runs every block green, in order", async () => {
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl(),
      SUPABASE_URL: `http://127.0.0.1:${fns.port}`,
      SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY,
      NO_COLOR: "1",
    };
    let lastSection = 0;
    for (const block of blocks) {
      if (block.section !== lastSection) {
        await setups[block.section]?.();
        lastSection = block.section;
      }
      const where = `section ${block.section} (${block.title}):\n${block.code}`;
      if (block.lang === "sql") {
        await expect(sql.unsafe(block.code), where).resolves.toBeDefined();
      } else {
        const res = spawnSync("bash", ["-euo", "pipefail", "-c", block.code], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
        expect(res.status, `${where}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`).toBe(0);
      }
    }
    // What the procedures were for actually happened.
    await waitFor("the stuck run and the retried run to complete",
      () => sql`select note, status from scheduler.runs where note in ('runbook: stuck', 'runbook: provider outage') order by note`,
      (r) => r.every((x) => x.status === "completed"), 60_000, 200);
    const [cancelled] = await sql`select status from scheduler.runs where note = 'runbook: cancel me'`;
    expect(cancelled!.status).toBe("cancelled");
    const [backfill] = await sql`select run_key from scheduler.runs where note = 'runbook: backfill after outage'`;
    expect(backfill!.run_key).toBe(daysAgo(3));
    expect(await duplicateResults(sql)).toEqual([]);
  }, 300_000);

  it("every sql/monitoring query runs", async () => {
    const dir = path.join(ROOT, "sql/monitoring");
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sql"))) {
      await expect(sql.unsafe(fs.readFileSync(path.join(dir, file), "utf8")), file).resolves.toBeDefined();
    }
  });
});
