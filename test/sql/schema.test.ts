// supabase/schema.sql (the index) and supabase/schema/ (one file per concept) are where people read
// the current schema: they must be exactly what the migrations make. scripts/test writes the freshly
// migrated database's schema (before any test touches it) with the same write_schema that
// scripts/schema uses, and this compares the two. pg_dump's output differs between majors, so the
// files are dumped from PostgreSQL 15 and compared on the pass that runs on 15; the PostgreSQL 17
// pass checks the rest.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const COMMITTED = path.join(ROOT, "supabase");
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

describe("supabase/schema.sql and supabase/schema/", () => {
  it.skipIf(major !== SCHEMA_MAJOR)(`are what the migrations make (regenerate them with scripts/schema; compared on PostgreSQL ${SCHEMA_MAJOR} only)`, () => {
    const migrated = process.env.DAYBREAK_MIGRATED_SCHEMA;
    if (!migrated) throw new Error("DAYBREAK_MIGRATED_SCHEMA is not set: run the suites through scripts/test");
    for (const [committed, made] of [
      ["schema.sql", "schema.sql"],
      ["schema", "schema"],
    ]) {
      const diff = spawnSync("diff", ["-ru", path.join(COMMITTED, committed), path.join(migrated, made)], { encoding: "utf8" });
      expect(diff.status, `supabase/${committed} differs from the migrated schema; run scripts/schema and commit it:\n${diff.stdout.slice(0, 6000)}`).toBe(0);
    }
  });

  it("hold the body of every function in schema scheduler", async () => {
    const dir = path.join(COMMITTED, "schema");
    const text = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".sql"))
      .map((f) => fs.readFileSync(path.join(dir, f), "utf8"))
      .join("\n");
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
