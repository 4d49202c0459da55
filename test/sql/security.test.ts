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

  it("no scheduler function is executable by public, anon or authenticated", async () => {
    const rows = await sql`
      select p.oid::regprocedure::text as fn
        from pg_proc p
       where p.pronamespace = 'scheduler'::regnamespace
         and (has_function_privilege('anon', p.oid, 'execute')
              or has_function_privilege('authenticated', p.oid, 'execute')
              or exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0))`;
    expect(rows.map((r) => r.fn)).toEqual([]);
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
