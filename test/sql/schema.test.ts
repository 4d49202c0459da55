// supabase/schema.sql is where people read the current schema: it must be exactly what the
// migrations make. scripts/test dumps the freshly migrated database (before any test touches it)
// with the same dump_schema that scripts/schema uses, and this compares the two. pg_dump's output
// differs between majors, so the file is dumped from PostgreSQL 15 and compared on the pass that
// runs on 15; the PostgreSQL 17 pass checks the rest.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const COMMITTED = path.join(ROOT, "supabase/schema.sql");
const SCHEMA_MAJOR = 15; // PG_SCHEMA_MAJOR in scripts/lib/postgres-server.sh

async function serverMajor(): Promise<number> {
  const sql = connect(1);
  try {
    const [{ v }] = await sql`select current_setting('server_version_num')::int / 10000 as v`;
    return Number(v);
  } finally {
    await sql.end();
  }
}
const major = await serverMajor();

describe("supabase/schema.sql", () => {
  it.skipIf(major !== SCHEMA_MAJOR)(`is what the migrations make (regenerate it with scripts/schema; compared on PostgreSQL ${SCHEMA_MAJOR} only)`, () => {
    const migrated = process.env.DAYBREAK_MIGRATED_SCHEMA;
    if (!migrated) throw new Error("DAYBREAK_MIGRATED_SCHEMA is not set: run the suites through scripts/test");
    const diff = spawnSync("diff", ["-u", COMMITTED, migrated], { encoding: "utf8" });
    expect(diff.status, `supabase/schema.sql differs from the migrated schema; run scripts/schema and commit it:\n${diff.stdout.slice(0, 6000)}`).toBe(0);
  });

  it("holds the body of every function in schema scheduler", async () => {
    const text = fs.readFileSync(COMMITTED, "utf8");
    const sql = connect(1);
    try {
      const functions = await sql<{ signature: string }[]>`
        select format('%s(%s)', p.proname, pg_catalog.oidvectortypes(p.proargtypes)) as signature
          from pg_proc p where p.pronamespace = 'scheduler'::regnamespace order by 1`;
      expect(functions.length).toBeGreaterThan(30);
      for (const f of functions) expect(text, f.signature).toContain(`-- Name: ${f.signature}; Type: FUNCTION; Schema: scheduler`);
    } finally {
      await sql.end();
    }
  });
});
