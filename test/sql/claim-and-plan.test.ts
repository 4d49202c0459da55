// scheduler.try_mark_daily_run: exactly one claim per period under concurrency, and the claim and
// its plan commit together or not at all.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import postgres from "postgres";
import { connect, databaseUrl } from "../../harness/db.ts";
import { countRows, resetState, seedOrganizations } from "../../harness/fixtures.ts";

const sql = connect(5);
afterAll(() => sql.end());
beforeEach(() => resetState(sql));

describe("try_mark_daily_run", () => {
  it("hammered by 100 concurrent connections for one key, exactly one gets updated: true", async () => {
    await seedOrganizations(sql, { organizations: 5, promptsPerOrg: 4, providers: { "prov-a": "http://127.0.0.1:9/v1" } });
    const clients = Array.from({ length: 100 }, () => postgres(databaseUrl(), { max: 1, onnotice: () => {} }));
    try {
      await Promise.all(clients.map((c) => c`select 1`)); // all 100 connections open before the race
      const results = await Promise.all(
        clients.map((c) => c<{ r: { updated: boolean; run_id?: string; existing_run_id?: string } }[]>`
          select scheduler.try_mark_daily_run('2026-11-22') as r`),
      );
      const winners = results.filter(([row]) => row!.r.updated);
      expect(winners).toHaveLength(1);
      const runId = winners[0]![0]!.r.run_id;
      for (const [row] of results) if (!row!.r.updated) expect(row!.r.existing_run_id).toBe(runId);
      const counts = await countRows(sql);
      expect(counts).toMatchObject({ runs: 1, batch_jobs: 5, batch_tasks: 20 });
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("has the contract's exact overloads", async () => {
    const [row] = await sql`select to_regprocedure('scheduler.try_mark_daily_run(text)') is not null as one,
                                   to_regprocedure('scheduler.try_mark_daily_run(text,text)') is not null as two`;
    expect(row).toEqual({ one: true, two: true });
  });

  it("returns updated/previous_key/new_key", async () => {
    const [first] = await sql`select scheduler.try_mark_daily_run('2026-11-20') as r`;
    expect(first!.r).toMatchObject({ updated: true, previous_key: null, new_key: "2026-11-20" });
    const [second] = await sql`select scheduler.try_mark_daily_run('2026-11-21') as r`;
    expect(second!.r).toMatchObject({ updated: true, previous_key: "2026-11-20", new_key: "2026-11-21" });
    const [again] = await sql`select scheduler.try_mark_daily_run('2026-11-21') as r`;
    expect(again!.r).toMatchObject({ updated: false, previous_key: "2026-11-21", new_key: "2026-11-21" });
  });

  it("plans one batch job per active organization with an active prompt, and deduplicates configuration", async () => {
    await sql`insert into public.providers (name, base_url, model) values ('a', 'http://127.0.0.1:9/v1', 'm'), ('b', 'http://127.0.0.1:9/v1', 'm')`;
    const [org] = await sql`insert into public.organizations (name) values ('dups') returning id`;
    const [inactive] = await sql`insert into public.organizations (name, active) values ('inactive', false) returning id`;
    const [noPrompts] = await sql`insert into public.organizations (name) values ('no active prompts') returning id`;
    await sql`insert into public.prompts (org_id, text, active) values
      (${org!.id}, 'p1', true), (${org!.id}, 'p2', true), (${org!.id}, 'off', false),
      (${inactive!.id}, 'p', true), (${noPrompts!.id}, 'off', false)`;
    // provider "a" listed twice, region "us" twice: 2 prompts × ({a: us, eu} ∪ {b: global}) = 6 tasks
    await sql`insert into public.organization_providers (org_id, provider, regions) values
      (${org!.id}, 'a', '{us,us,eu}'), (${org!.id}, 'a', '{us}'), (${org!.id}, 'b', '{global}'),
      (${inactive!.id}, 'a', '{us}')`;
    const [res] = await sql`select scheduler.try_mark_daily_run('2026-11-22') as r`;
    expect(res!.r).toMatchObject({ updated: true, batch_jobs: 1, tasks: 6 });
    const tasks = await sql`select provider, region, count(*)::int as n from scheduler.batch_tasks group by 1, 2 order by 1, 2`;
    expect(tasks).toEqual([
      { provider: "a", region: "eu", n: 2 },
      { provider: "a", region: "us", n: 2 },
      { provider: "b", region: "global", n: 2 },
    ]);
  });

  it("fails an organization naming its unknown provider or region, never remapping; others still run", async () => {
    await sql`insert into public.providers (name, base_url, model) values ('a', 'http://127.0.0.1:9/v1', 'm')`;
    const [good] = await sql`insert into public.organizations (name) values ('good') returning id`;
    const [bad] = await sql`insert into public.organizations (name) values ('bad') returning id`;
    await sql`insert into public.prompts (org_id, text) values (${good!.id}, 'p'), (${bad!.id}, 'p')`;
    const [nullRegion] = await sql`insert into public.organizations (name) values ('null region') returning id`;
    await sql`insert into public.prompts (org_id, text) values (${nullRegion!.id}, 'p')`;
    await sql`insert into public.organization_providers (org_id, provider, regions) values
      (${good!.id}, 'a', '{us}'), (${bad!.id}, 'a', '{us-east-9}'), (${bad!.id}, 'gpt-typo', '{us}'),
      (${nullRegion!.id}, 'a', '{us,NULL}')`;
    const [res] = await sql`select scheduler.try_mark_daily_run('2026-11-22') as r`;
    expect(res!.r).toMatchObject({ updated: true, batch_jobs: 3, tasks: 1, configuration_errors: 2 });
    const [nullJob] = await sql`select status, last_error from scheduler.batch_jobs where org_id = ${nullRegion!.id}`;
    expect(nullJob).toEqual({ status: "failed", last_error: 'configuration error: unknown region "NULL"' });
    const [badJob] = await sql`select status, last_error, tasks_total from scheduler.batch_jobs where org_id = ${bad!.id}`;
    expect(badJob!.status).toBe("failed");
    expect(badJob!.last_error).toContain('unknown provider "gpt-typo"');
    expect(badJob!.last_error).toContain('unknown region "us-east-9"');
    expect(badJob!.tasks_total).toBe(0);
    const regions = await sql`select distinct region from scheduler.batch_tasks`;
    expect(regions.map((r) => r.region)).toEqual(["us"]);
  });

  it("no lost day: a plan that fails part way leaves the period unclaimed", async () => {
    await seedOrganizations(sql, { organizations: 3, promptsPerOrg: 2, providers: { "prov-a": "http://127.0.0.1:9/v1" } });
    await sql`create function public.fail_planning() returns trigger language plpgsql set search_path = '' as
              $$ begin raise exception 'planning failed on purpose'; end $$`;
    await sql`create trigger fail_planning before insert on scheduler.batch_tasks for each statement execute function public.fail_planning()`;
    try {
      await expect(sql`select scheduler.try_mark_daily_run('2026-11-22')`).rejects.toThrow(/planning failed on purpose/);
      expect(await countRows(sql)).toMatchObject({ runs: 0, batch_jobs: 0, batch_tasks: 0 });
    } finally {
      await sql`drop trigger fail_planning on scheduler.batch_tasks`;
      await sql`drop function public.fail_planning()`;
    }
    const [res] = await sql`select scheduler.try_mark_daily_run('2026-11-22') as r`;
    expect(res!.r).toMatchObject({ updated: true, batch_jobs: 3, tasks: 6 });
  });

  it("every committed claim has its batch jobs and tasks", async () => {
    await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
    for (const key of ["2026-11-18", "2026-11-19", "2026-11-20"]) await sql`select scheduler.try_mark_daily_run(${key})`;
    const rows = await sql`
      select r.run_key, r.batch_jobs_planned, r.tasks_planned,
             (select count(*)::int from scheduler.batch_jobs j where j.run_id = r.id) as jobs,
             (select count(*)::int from scheduler.batch_tasks t where t.run_id = r.id) as tasks
        from scheduler.runs r order by r.run_key`;
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toMatchObject({ batch_jobs_planned: 4, jobs: 4, tasks_planned: 24, tasks: 24 });
  });

  it("rejects malformed run keys and unknown schedules with a named error", async () => {
    await expect(sql`select scheduler.try_mark_daily_run('2026-02-30')`).rejects.toThrow(/invalid run_key "2026-02-30"/);
    await expect(sql`select scheduler.try_mark_daily_run('nope', '2026-11-22')`).rejects.toThrow(/unknown schedule "nope"/);
  });

  it("supports weekly schedules through the same path, keyed by ISO week", async () => {
    await sql`insert into scheduler.schedules (name, timezone, window_start, window_end, period, weekday)
              values ('weekly-report', 'America/New_York', '03:00', '06:00', 'weekly', 1)`;
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const [w] = await sql`select scheduler.try_mark_daily_run('weekly-report', '2026-W48') as r`;
    expect(w!.r).toMatchObject({ updated: true, batch_jobs: 2, tasks: 2 });
    const [again] = await sql`select scheduler.try_mark_daily_run('weekly-report', '2026-W48') as r`;
    expect(again!.r.updated).toBe(false);
    await expect(sql`select scheduler.try_mark_daily_run('weekly-report', '2026-11-22')`).rejects.toThrow(/invalid run_key/);
  });
});
