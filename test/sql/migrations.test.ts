// Migrations tested as migrations: re-pushing changes nothing, and each file says what it is. The
// schema they make is compared with the committed supabase/schema.sql and supabase/schema/ in schema.test.ts.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { connect, databaseUrl } from "../../harness/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const sql = connect(2);
afterAll(() => sql.end());
const MIGRATIONS = path.join(ROOT, "supabase/migrations");

describe("migrations", () => {
  it("a second supabase db push applies nothing and changes nothing", async () => {
    const before = await sql`select version from supabase_migrations.schema_migrations order by version`;
    const res = spawnSync(path.join(ROOT, "node_modules/.bin/supabase"), ["db", "push", `--remote=${databaseUrl()}`, "--yes", "--skip-vault"],
      { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, SUPABASE_YES: "1" } });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    expect(res.stdout + res.stderr).toMatch(/up to date/i);
    const after = await sql`select version from supabase_migrations.schema_migrations order by version`;
    expect(after).toEqual(before);
  });

  it("every migration is timestamped and starts with a header saying its purpose and objects", () => {
    for (const file of fs.readdirSync(MIGRATIONS)) {
      expect(file).toMatch(/^\d{14}_[a-z0-9_]+\.sql$/);
      // The header is the opening block of comment lines.
      const lines = fs.readFileSync(path.join(MIGRATIONS, file), "utf8").split("\n");
      const head = lines.slice(0, lines.findIndex((l) => !l.startsWith("--"))).join("\n");
      expect(head, file).toMatch(/^-- /);
      expect(head, file).toMatch(/Purpose:/);
      expect(head, file).toMatch(/Objects:/);
      expect(head, file).toMatch(/supabase\/schema(\.sql|\/)/);
    }
  });
});
