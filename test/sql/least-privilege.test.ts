// Least privilege in the schema: a provider row cannot name a secret as its key or send calls in
// plain text to another host, the service role cannot rewrite providers, daybreak shows and prunes
// only its own cron jobs, the Data API roles get no sequence, and a cron label needs proof.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";

const sql = connect(3);
afterAll(() => sql.end());
beforeEach(() => resetState(sql));

const insertProvider = (apiKeyEnv: string | null, baseUrl = "https://api.example.com/v1") =>
  sql`insert into public.providers (name, base_url, model, api_key_env) values ('p-under-test', ${baseUrl}, 'm', ${apiKeyEnv})`;

describe("public.providers cannot leak secrets", () => {
  it("refuses a key variable that is not a provider key, or is the platform's or daybreak's", async () => {
    for (const name of ["SUPABASE_DB_URL", "CRON_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "DAYBREAK_METRICS_TOKEN", "DAYBREAK_X_API_KEY",
      "CRON_SECRET_API_KEY", "OPENAI_KEY", "openai_api_key", "HOME"]) {
      await expect(insertProvider(name), name).rejects.toThrow(/violates check constraint "providers_api_key_env/);
    }
    await insertProvider("OPENAI_API_KEY");
    await sql`delete from public.providers where name = 'p-under-test'`;
    await insertProvider(null);
  });

  it("refuses plain http except to this machine", async () => {
    for (const url of ["http://evil.example/v1", "http://127.0.0.1.nip.io/v1", "http://localhost@evil.example/v1", "ftp://x/v1",
      "http://10.0.0.5:8000/v1", "https:///v1"]) {
      await expect(insertProvider(null, url), url).rejects.toThrow(/violates check constraint "providers_base_url/);
    }
    for (const url of ["https://api.openai.com/v1", "http://127.0.0.1:54330/v1", "http://localhost:8000/v1", "http://[::1]:8000"]) {
      await insertProvider(null, url);
      await sql`delete from public.providers where name = 'p-under-test'`;
    }
  });

  it("the service role (the REST API) reads providers but cannot write them", async () => {
    await insertProvider(null);
    for (const write of [
      "insert into public.providers (name, base_url, model) values ('sneaky', 'https://evil.example/v1', 'm')",
      "update public.providers set base_url = 'https://evil.example/v1'",
      "delete from public.providers",
    ]) {
      const attempt = sql.begin(async (tx) => {
        await tx`set local role service_role`;
        await tx.unsafe(write);
      });
      await expect(attempt, write).rejects.toThrow(/permission denied for table providers/);
    }
    const rows = await sql.begin(async (tx) => {
      await tx`set local role service_role`;
      return await tx`select name from public.providers`;
    });
    expect(rows).toEqual([{ name: "p-under-test" }]);
  });

  it("the Data API roles have no privilege on any sequence of daybreak's", async () => {
    const rows = await sql`
      select c.oid::regclass::text as seq, r.role
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       cross join (values ('anon'), ('authenticated')) r(role)
       where c.relkind = 'S' and n.nspname in ('public', 'scheduler')
         and (has_sequence_privilege(r.role, c.oid, 'usage') or has_sequence_privilege(r.role, c.oid, 'select')
              or has_sequence_privilege(r.role, c.oid, 'update'))`;
    expect(rows).toEqual([]);
  });
});

describe("daybreak's cron jobs only", () => {
  it("v_cron_health never shows another team's job, its command or its output", async () => {
    const [other] = await sql`select cron.schedule('other-team-sync', '0 3 1 1 *',
      $$select net.http_post('https://other.example', headers := '{"Authorization": "Bearer sk-other-team-secret-000000"}')$$) as id`;
    try {
      const rows = await sql`select * from scheduler.v_cron_health`;
      expect(JSON.stringify(rows)).not.toMatch(/other-team|sk-other/);
      const problems = await sql`select * from scheduler.v_health_problems where problem = 'cron_job'`;
      expect(JSON.stringify(problems)).not.toMatch(/other-team/);
    } finally {
      await sql`select cron.unschedule(${other!.id}::bigint)`;
    }
  });
});

describe("attribution: cron needs proof", () => {
  const verify = async (claimed: string, requestId: string, processorId: string | null = null) =>
    (await sql`select scheduler.verified_trigger_source(${claimed}, ${requestId}, ${processorId}::uuid) as s`)[0]!.s as string;

  it("a cron claim without a tick's request id is recorded as api; labels other than cron are kept", async () => {
    expect(await verify("cron", "made-up-request-id")).toBe("api");
    for (const label of ["manual", "github_actions", "api", "reconciler"]) expect(await verify(label, "x")).toBe(label);
  });

  it("the request id of a tick daybreak's cron job queued is accepted once, concurrently too", async () => {
    await sql`insert into scheduler.cron_ticks (tick, ticked_at, decision, request_id) values
              ('trigger', now(), 'called', 'tick-1'), ('reconcile', now(), 'called', 'tick-2'), ('trigger', now(), 'not_configured', 'tick-3')`;
    expect(await verify("cron", "tick-1")).toBe("cron");
    expect(await verify("cron", "tick-1")).toBe("api"); // a replay
    expect(await verify("cron", "tick-3")).toBe("api"); // no call was made for it
    const racers = await Promise.all(Array.from({ length: 8 }, () => verify("cron", "tick-2")));
    expect(racers.filter((s) => s === "cron")).toHaveLength(1);
  });

  it("a processor kick queued for a cron-started run carries its proof: the kicked processor row", async () => {
    await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`select scheduler.try_mark_daily_run('daily-batch', '2026-11-22', 'cron', null, false, null)`;
    const [kicked] = await sql`select id from scheduler.processors where status = 'kicked' and trigger_source = 'cron'`;
    expect(await verify("cron", "a-kick-request-id", kicked!.id)).toBe("cron");
    // A manual run's kick proves nothing for cron.
    const [manual] = await sql`insert into scheduler.processors (status, trigger_source, kicked_at) values ('kicked', 'manual', now()) returning id`;
    expect(await verify("cron", "a-kick-request-id", manual!.id)).toBe("api");
  });
});
