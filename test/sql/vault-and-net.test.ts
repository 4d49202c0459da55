// The real Supabase Vault and pg_net, as the local platform loads them: secrets are encrypted at
// rest, the API roles reach neither Vault nor net.http_post through daybreak, and who can read
// the queued requests (which carry the cron secret until pg_net's worker sends them) is stated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";

let sql: Sql;
beforeAll(async () => {
  sql = connect(2);
  await resetState(sql);
});
afterAll(() => sql.end());

/** Runs `query` as `role` in a transaction that is always rolled back; the error message, or "ok". */
async function asRole(role: string, query: string): Promise<string> {
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`);
      await tx.unsafe(query);
      throw new Error("ok");
    });
  } catch (error) {
    return (error as Error).message;
  }
  return "ok";
}

describe("Supabase Vault (the real extension)", () => {
  it("is installed as on Supabase: extension supabase_vault in schema vault, loaded with a root key", async () => {
    const [ext] = await sql`select extversion, extnamespace::regnamespace::text as schema from pg_extension where extname = 'supabase_vault'`;
    expect(ext).toEqual({ extversion: "0.3.1", schema: "vault" });
    const [{ libs }] = await sql`select current_setting('shared_preload_libraries') as libs`;
    expect(libs.split(",").map((s: string) => s.trim())).toEqual(["pg_stat_statements", "pg_cron", "pg_net", "supabase_vault"]);
  });

  it("stores a secret written with vault.create_secret encrypted and reads it back through vault.decrypted_secrets", async () => {
    const plain = `daybreak-vault-probe-${crypto.randomUUID()}`;
    const [{ id }] = await sql`select vault.create_secret(${plain}, ${`probe-${Date.now()}`}, 'test') as id`;
    try {
      const [stored] = await sql`select secret, nonce from vault.secrets where id = ${id}`;
      expect(stored!.secret).not.toContain(plain);
      expect(stored!.secret).not.toContain(Buffer.from(plain).toString("base64"));
      expect(stored!.nonce).not.toBeNull();
      const [read] = await sql`select decrypted_secret from vault.decrypted_secrets where id = ${id}`;
      expect(read!.decrypted_secret).toBe(plain);
      await sql`select vault.update_secret(${id}, ${plain + "-2"})`;
      const [updated] = await sql`select s.secret, d.decrypted_secret from vault.secrets s join vault.decrypted_secrets d using (id) where s.id = ${id}`;
      expect(updated!.secret).not.toContain(plain);
      expect(updated!.decrypted_secret).toBe(plain + "-2");
    } finally {
      await sql`delete from vault.secrets where id = ${id}`;
    }
  });
});

describe("what anon and authenticated can reach", () => {
  it("cannot read Vault", async () => {
    for (const role of ["anon", "authenticated"]) {
      expect(await asRole(role, "select * from vault.decrypted_secrets")).toMatch(/permission denied/);
      expect(await asRole(role, "select * from vault.secrets")).toMatch(/permission denied/);
      expect(await asRole(role, "select vault.create_secret('x')")).toMatch(/permission denied/);
    }
  });

  it("cannot call net.http_post, directly or through any daybreak function", async () => {
    for (const role of ["anon", "authenticated"]) {
      expect(await asRole(role, "select net.http_post('http://127.0.0.1:9/x')")).toMatch(/permission denied/);
      expect(await asRole(role, "select scheduler.queue_function_call('batch-reconciler', '{}', 'api')")).toMatch(/permission denied/);
      expect(await asRole(role, "select scheduler.cron_trigger_tick()")).toMatch(/permission denied/);
    }
    // No function in schema scheduler is executable by the API roles...
    const executable = await sql`
      select p.oid::regprocedure::text as fn, r.rolname
        from pg_proc p cross join (values ('anon'), ('authenticated')) r(rolname)
       where p.pronamespace = 'scheduler'::regnamespace and has_function_privilege(r.rolname, p.oid, 'execute')`;
    expect(executable).toEqual([]);
    // ...and nothing the Data API exposes (schema public) calls pg_net or reads Vault.
    const exposed = await sql`
      select p.oid::regprocedure::text as fn from pg_proc p
       where p.pronamespace = 'public'::regnamespace and (p.prosrc ilike '%net.http_%' or p.prosrc ilike '%vault.%'
             or p.prosrc ilike '%queue_function_call%')`;
    expect(exposed).toEqual([]);
  });
});

describe("who can read the queued requests (they carry the cron secret until pg_net sends them)", () => {
  it("locally: only the superuser; migration 20261123000200 took back pg_net's grants to PUBLIC", async () => {
    const rows = await sql<{ rolname: string; queue: boolean; responses: boolean; net_usage: boolean; post: boolean }[]>`
      select r.rolname,
             has_table_privilege(r.rolname, 'net.http_request_queue', 'select') as queue,
             has_table_privilege(r.rolname, 'net._http_response', 'select') as responses,
             has_schema_privilege(r.rolname, 'net', 'usage') as net_usage,
             has_function_privilege(r.rolname, 'net.http_post(text, jsonb, jsonb, jsonb, integer)', 'execute') as post
        from (values ('anon'), ('authenticated'), ('service_role'), ('authenticator'), ('postgres')) r(rolname)
       order by 1`;
    expect(rows).toEqual([
      { rolname: "anon", queue: false, responses: false, net_usage: false, post: false },
      { rolname: "authenticated", queue: false, responses: false, net_usage: false, post: false },
      { rolname: "authenticator", queue: false, responses: false, net_usage: false, post: false },
      { rolname: "postgres", queue: true, responses: true, net_usage: true, post: true },
      { rolname: "service_role", queue: false, responses: false, net_usage: false, post: false },
    ]);
    // PUBLIC (every role, present and future) has nothing left on schema net.
    const [{ public_grants }] = await sql`
      select count(*)::int as public_grants
        from (select (aclexplode(nspacl)).grantee from pg_namespace where nspname = 'net'
              union all
              select (aclexplode(relacl)).grantee from pg_class where relnamespace = 'net'::regnamespace
              union all
              select (aclexplode(proacl)).grantee from pg_proc where pronamespace = 'net'::regnamespace) g
       where grantee = 0`;
    expect(public_grants).toBe(0);
  });

  it("the cron secret is in a queued request's headers: that is why the grants above matter", async () => {
    let headers: Record<string, string> = {};
    await sql.begin(async (tx) => {
      await tx`delete from vault.secrets where name in ('daybreak_functions_url', 'daybreak_cron_secret')`;
      await tx`select vault.create_secret('http://127.0.0.1:9/functions/v1', 'daybreak_functions_url')`;
      await tx`select vault.create_secret(${"s".repeat(40)}, 'daybreak_cron_secret')`;
      const [{ id }] = await tx`select scheduler.queue_function_call('batch-reconciler', '{}', 'api') as id`;
      const [row] = await tx`select headers, timeout_milliseconds from net.http_request_queue where id = ${id}`;
      headers = row!.headers;
      expect(row!.timeout_milliseconds).toBe(2000);
      throw new Error("roll back: nothing is sent");
    }).catch((e) => expect((e as Error).message).toMatch(/roll back/));
    expect(headers["x-cron-secret"]).toBe("s".repeat(40));
    expect(headers.Prefer).toBe("respond-async");
  });
});
