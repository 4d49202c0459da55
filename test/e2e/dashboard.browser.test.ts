// The status page as a person uses it: Debian's Chromium, driven by playwright-core, opens the
// page, is refused with bad credentials, signs in, and reads what the SQL views say for a day that
// ran, two missed days, a forced backfill and a day with failed tasks; then watches a live run.
// Screenshots go to test/artifacts/.
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MockProvider } from "../../harness/mock-provider/index.ts";
import { daysAgo, startDashboardStack, type DashboardScenario, type DashboardStack } from "../helpers/dashboard-scenario.ts";
import { waitFor, type Sql } from "../../harness/db.ts";
import { freePort, startService, TEST_CRON_SECRET, TEST_METRICS_TOKEN, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { waitForRunEnd } from "../../harness/runs.ts";

const CHROMIUM = process.env.DAYBREAK_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test/artifacts");

let sql: Sql;
let mock: MockProvider;
let fns: DashboardStack["fns"];
let browser: Browser;
let scenario: DashboardScenario;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  ({ sql, mock, fns, scenario, stop } = await startDashboardStack({ customDomain: true }));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stop?.();
});

async function signIn(page: Page, credential: string): Promise<void> {
  await page.fill("#credential", credential);
  await page.click("#signin button[type=submit]");
}

/** The calendar table's row for a period, as text cells keyed by header. */
async function calendarRow(page: Page, runKey: string): Promise<Record<string, string>> {
  return await page.evaluate((key) => {
    const table = document.getElementById("calendar-table") as HTMLTableElement;
    const headers = [...table.rows[0]!.cells].map((c) => c.textContent ?? "");
    const row = [...table.rows].find((r) => r.cells[1]?.textContent === key && r.cells[0]?.textContent === "daily-batch");
    if (!row) return {};
    return Object.fromEntries([...row.cells].map((c, i) => [headers[i]!, c.textContent ?? ""]));
  }, runKey);
}

describe("the status page in Chromium", () => {
  it("shows only a form without credentials, and refuses bad ones", async () => {
    const page = await browser.newPage();
    const seen: number[] = [];
    page.on("response", (r) => { if (r.url().endsWith("/data")) seen.push(r.status()); });
    await page.goto(`${fns.url}/daybreak-dashboard`);
    await expect.poll(() => page.isVisible("#signin")).toBe(true);
    expect(await page.isVisible("#content")).toBe(false);
    await signIn(page, "not-the-secret-0123456789abcdefghijklmnop");
    await expect.poll(() => page.textContent("#signin-error")).toContain("refused");
    expect(seen).toEqual([401]);
    expect(await page.isVisible("#content")).toBe(false);
    expect(page.url()).not.toContain("secret");
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-signin.png") });
    await page.close();
  });

  it("signed in, its calendar says what v_daily_history and the runs say", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${fns.url}/daybreak-dashboard`);
    await signIn(page, TEST_SERVICE_ROLE_KEY);
    await page.waitForSelector("#calendar svg rect");
    expect(page.url()).not.toContain(TEST_SERVICE_ROLE_KEY);
    expect(await page.content()).not.toContain(TEST_SERVICE_ROLE_KEY);

    const expected = await sql<{ run_key: string; status: string; trigger_source: string; planned: number; results: number; duration: number }[]>`
      select r.run_key, r.status, r.trigger_source, r.tasks_planned as planned,
             (select count(*)::int from public.prompt_results p where p.run_id = r.id) as results,
             round(extract(epoch from r.completed_at - r.created_at)::numeric, 1)::float8 as duration
        from scheduler.runs r where r.schedule = 'daily-batch'`;
    const byKey = Object.fromEntries(expected.map((e) => [e.run_key, e]));
    const ran = await calendarRow(page, scenario.ran);
    expect(ran).toMatchObject({ outcome: "ran", winner: "cron", planned: String(byKey[scenario.ran]!.planned), complete: "100%" });
    expect(Number(ran["duration s"])).toBeCloseTo(byKey[scenario.ran]!.duration, 1);
    for (const key of scenario.missed) expect(await calendarRow(page, key)).toMatchObject({ outcome: "missed", winner: "", planned: "" });
    expect(await calendarRow(page, scenario.backfilled)).toMatchObject({
      outcome: "backfilled", winner: "manual", note: "dashboard test: backfill", complete: "100%",
    });
    const failed = await calendarRow(page, scenario.failedDay);
    const f = byKey[scenario.failedDay]!;
    expect(failed).toMatchObject({ outcome: "failed", results: String(f.results), complete: `${Math.round((100 * f.results) / f.planned)}%` });
    expect(f.results).toBeLessThan(f.planned);
    // The SVG squares carry the same outcomes; a missed day is outlined.
    for (const key of scenario.missed) {
      expect(await page.getAttribute(`rect[data-run-key="${key}"]`, "data-outcome")).toBe("missed");
      expect(await page.getAttribute(`rect[data-run-key="${key}"]`, "stroke")).toBe("#fff");
    }
    const problems = await page.textContent("#problems");
    expect(problems).toContain("missed_period");
    expect(problems).toContain("RUNBOOK.md §4");
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-history.png"), fullPage: true });
    await page.close();
  });

  it("follows a live run on its own, per organization and per provider, until it completes", async () => {
    mock.setLatency(400);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${fns.url}/daybreak-dashboard`);
    await signIn(page, TEST_CRON_SECRET);
    await page.waitForSelector("#calendar svg rect");
    const today = daysAgo(0);
    await sql`delete from scheduler.runs where schedule = 'daily-batch' and run_key = ${today}`;
    const [row] = await sql<{ r: { run_id: string } }[]>`
      select scheduler.try_mark_daily_run('daily-batch', ${today}, 'manual', null, true, 'dashboard test: live') as r`;
    const runId = row!.r.run_id;
    // One reload shows the new run; from then on the page refreshes itself while the run is live.
    await page.reload();
    await expect.poll(() => page.textContent("#run"), { timeout: 10_000 }).toContain("running");
    await waitFor("the page to show calls in flight or done", () => page.textContent("#providers"), (t) => /alpha/.test(t ?? ""), 10_000, 200);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-live.png"), fullPage: true });
    expect(await waitForRunEnd(sql, runId)).toBe("completed");
    await expect.poll(() => page.textContent("#run"), { timeout: 15_000 }).toContain("completed");
    const orgs = await page.textContent("#orgs");
    expect(orgs).toContain("org-1");
    mock.setLatency(5);
    await page.close();
  });

  it("without a custom domain: scripts/dashboard serves the working page on 127.0.0.1, the read-only token never reaching the browser", async () => {
    const port = await freePort();
    const viewer = await startService("scripts/dashboard", path.join(ROOT, "scripts/dashboard"), ["--port", String(port)],
      { SUPABASE_URL: fns.url.replace(/\/functions\/v1$/, ""), DAYBREAK_METRICS_TOKEN: TEST_METRICS_TOKEN }, /status page: http/);
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const bearers: string[] = [];
      page.on("request", (r) => { if (r.headers().authorization) bearers.push(r.headers().authorization!); });
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector("#calendar svg rect");
      expect(await page.isVisible("#signin")).toBe(false);
      expect(await calendarRow(page, scenario.ran)).toMatchObject({ outcome: "ran", winner: "cron" });
      expect(bearers).toEqual([]);
      expect(await page.content()).not.toContain(TEST_METRICS_TOKEN);
      await page.close();
      // Nothing but the page's reads is forwarded.
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/data`, { method: "POST" })).status).toBe(405);
    } finally {
      await viewer.stop();
    }
  });
});
