// The scheduler schema is private: the Data API roles cannot reach it, and every table has RLS.
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";

const sql = connect(2);
afterAll(() => sql.end());

describe("scheduler schema security baseline", () => {
  for (const role of ["anon", "authenticated"]) {
    it(`${role} gets permission denied on schema scheduler`, async () => {
      const attempt = sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx`select * from scheduler.schedules`;
      });
      await expect(attempt).rejects.toThrow(/permission denied for schema scheduler/);
      const [{ usage }] = await sql`select has_schema_privilege(${role}, 'scheduler', 'usage') as usage`;
      expect(usage).toBe(false);
    });
  }

  /** Functions daybreak owns (in scheduler or public, not an extension's) that PUBLIC, anon or
   * authenticated may execute. PostgreSQL grants EXECUTE to PUBLIC on every new function and a
   * per-schema default cannot take that back, so every migration revokes it; this catches one that
   * forgets. */
  const exposedFunctions = (db: typeof sql) => db`
    select p.oid::regprocedure::text as fn
      from pg_proc p
     where p.pronamespace in ('scheduler'::regnamespace, 'public'::regnamespace)
       and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
       and (has_function_privilege('anon', p.oid, 'execute')
            or has_function_privilege('authenticated', p.oid, 'execute')
            or exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0))`;

  it("no function of daybreak's is executable by public, anon or authenticated", async () => {
    expect((await exposedFunctions(sql)).map((r) => r.fn)).toEqual([]);
  });

  it("that check catches a future function whose migration forgets the revoke", async () => {
    class RolledBack extends Error {
      constructor(readonly found: string[]) {
        super("rolled back on purpose");
      }
    }
    const caught = await sql.begin(async (tx) => {
      await tx`create function scheduler.forgot_the_revoke() returns int language sql set search_path = '' as 'select 1'`;
      await tx`create function public.daybreak_forgot_the_revoke() returns int language sql set search_path = '' as 'select 1'`;
      throw new RolledBack((await exposedFunctions(tx as unknown as typeof sql)).map((r) => r.fn));
    }).catch((error: unknown) => {
      if (error instanceof RolledBack) return error.found;
      throw error;
    });
    expect(caught).toEqual(expect.arrayContaining(["scheduler.forgot_the_revoke()", "daybreak_forgot_the_revoke()"]));
  });

  it("every scheduler function pins search_path to ''", async () => {
    const rows = await sql`
      select p.oid::regprocedure::text as fn
        from pg_proc p
       where p.pronamespace = 'scheduler'::regnamespace
         and not coalesce(p.proconfig @> array['search_path=""'], false)`;
    expect(rows.map((r) => r.fn)).toEqual([]);
  });

  it("every table in scheduler and public has row level security on", async () => {
    const rows = await sql`
      select n.nspname || '.' || c.relname as tbl
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind = 'r' and n.nspname in ('scheduler', 'public') and not c.relrowsecurity`;
    expect(rows.map((r) => r.tbl)).toEqual([]);
  });
});
