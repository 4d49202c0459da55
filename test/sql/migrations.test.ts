// Migrations tested as migrations: re-pushing changes nothing, each file says what it is, and the
// schema matches a committed snapshot so drift shows up in review
// (update it with `scripts/test --project sql -u` after an intended schema change).
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
    }
  });

  it("the scheduler schema matches the committed snapshot", async () => {
    const rows = await sql<{ line: string }[]>`
      select format('table %s: %s', c.relname, string_agg(format('%s %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                    case when a.attnotnull then ' not null' else '' end), ', ' order by a.attnum)) as line
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where c.relnamespace = 'scheduler'::regnamespace and c.relkind in ('r', 'v')
       group by c.relname
      union all
      select format('constraint %s.%s: %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
        from pg_constraint where connamespace = 'scheduler'::regnamespace
      union all
      select format('index %s: %s', indexrelid::regclass, pg_get_indexdef(indexrelid))
        from pg_index i join pg_class c on c.oid = i.indrelid where c.relnamespace = 'scheduler'::regnamespace
      union all
      select format('function %s returns %s', p.oid::regprocedure, pg_get_function_result(p.oid))
        from pg_proc p where p.pronamespace = 'scheduler'::regnamespace
      union all
      select format('cron %s: %s %s', jobname, schedule, command) from cron.job where jobname like 'daybreak-%'
      order by 1`;
    await expect(rows.map((r) => r.line).join("\n") + "\n").toMatchFileSnapshot("../fixtures/scheduler-schema.snapshot.txt");
  });
});
