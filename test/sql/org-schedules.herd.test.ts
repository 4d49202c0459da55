// No herd: 1,000 organizations at 00:00 local are spread by their deterministic jitter over 15
// minutes, claimed a tick's share at a time, and the shared pacer keeps the provider within its
// limit while they run (fake clock: the due pass and claim_paced_tasks both take the instant).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";
import { duePass } from "../helpers/org-clock.ts";

const sql = connect(4);
afterAll(() => sql.end());

const ORGS = 1000;
const LIMIT_RPM = 600;
const MIDNIGHT_IST = Date.parse("2026-12-01T18:30:00Z"); // 2026-12-02 00:00 Asia/Kolkata

beforeAll(async () => {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
  await sql`insert into public.providers (name, base_url, model, requests_per_minute) values ('herd', 'http://127.0.0.1:9/v1', 'm', ${LIMIT_RPM})`;
  const orgs = await sql<{ id: string }[]>`
    insert into public.organizations (name) select 'herd-' || g from generate_series(1, ${ORGS}::int) g returning id`;
  const ids = orgs.map((o) => o.id);
  await sql`insert into public.prompts (org_id, text) select o, 'prompt ' || g from unnest(${ids}::uuid[]) o cross join generate_series(1, 2) g`;
  await sql`insert into public.organization_providers (org_id, provider, regions) select o, 'herd', '{global}' from unnest(${ids}::uuid[]) o`;
  await sql`select public.set_org_schedule(o, 'daily-batch', 'Asia/Kolkata', '00:00', null, null, null, null, null, '2026-12-01T12:00:00Z')
              from unnest(${ids}::uuid[]) o`;
});

describe("1,000 organizations due at 00:00 local", () => {
  it("are spread over the jitter window, claimed once each, and the pacer never exceeds the provider's limit", async () => {
    const claimedPerTick: number[] = [];
    const grants: { at: number; n: number }[] = [];
    for (let t = MIDNIGHT_IST - 600_000; t <= MIDNIGHT_IST + 1_800_000; t += 1000) {
      const now = new Date(t);
      if (t % 300_000 === 0) claimedPerTick.push((await duePass(sql, now)).started);
      const [claim] = await sql`select scheduler.claim_paced_tasks('herd-worker', 'herd', 64, ${now}::timestamptz) as c`;
      const tasks = claim!.c.tasks as { task_id: string; attempt_token: string }[];
      if (tasks.length === 0) continue;
      grants.push({ at: t, n: tasks.length });
      const outcomes = tasks.map((x) => ({ task_id: x.task_id, attempt_token: x.attempt_token, outcome: "succeeded",
                                             answered_by: "herd", model: "m", response: "ok", attempts: 1, latency_ms: 10 }));
      await sql`select scheduler.record_task_outcomes('herd-worker', ${sql.json(outcomes as never)}, '[]'::jsonb)`;
    }

    const [spread] = await sql`
      select count(*)::int as runs, count(distinct org_id)::int as orgs,
             extract(epoch from min(due_at) - ${new Date(MIDNIGHT_IST)}::timestamptz)::int as first_s,
             extract(epoch from max(due_at) - ${new Date(MIDNIGHT_IST)}::timestamptz)::int as last_s,
             count(*) filter (where claimed_at - due_at >= interval '5 minutes')::int as late
        from scheduler.runs where org_id is not null`;
    expect(spread).toMatchObject({ runs: ORGS, orgs: ORGS, late: 0 });
    expect(spread!.first_s).toBeGreaterThanOrEqual(0);
    expect(spread!.last_s).toBeLessThan(900);
    // Three 5-minute ticks share the herd; none takes it all.
    const busy = claimedPerTick.filter((n) => n > 0);
    expect(busy.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...busy)).toBeLessThan(ORGS * 0.45);

    // Every task ran once, and no 60-second window granted more calls than the provider allows.
    expect(grants.reduce((n, g) => n + g.n, 0)).toBe(ORGS * 2);
    let worst = 0;
    for (const g of grants) worst = Math.max(worst, grants.filter((h) => h.at > g.at - 60_000 && h.at <= g.at).reduce((n, h) => n + h.n, 0));
    expect(worst).toBeLessThanOrEqual(LIMIT_RPM);
    // The herd is paced, not refused: the calls spread over more than the jitter window.
    expect(grants[grants.length - 1]!.at - grants[0]!.at).toBeGreaterThan(180_000);
  });
});
