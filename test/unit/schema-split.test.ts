// The generated schema's layout: each object in the file of the concept it belongs to, nothing
// unplaced, no file over the limit (scripts/lib/schema-split.ts, schema-families.ts).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/root.ts";
import { MAX_SCHEMA_FILE_LINES, SCHEMA_FAMILIES } from "../../scripts/lib/schema-families.ts";
import { splitSchema } from "../../scripts/lib/schema-split.ts";

const SECTION = "-- ----------------------------------------------------------------";

const object = (name: string, type: string, body: string) => `-- Name: ${name}; Type: ${type}; Schema: scheduler\n\n${body}\n`;

// A dump in dump_schema's shape with one function per family member, so every family has something.
function dump(extra: string[] = []): string {
  const members = SCHEMA_FAMILIES.flatMap((f) => f.members).filter((m) => /^\w+$/.test(m));
  return [
    `${SECTION} extensions`,
    "create extension if not exists pg_cron with schema pg_catalog; -- version 1.6",
    `${SECTION} schemas scheduler and public (pg_dump)`,
    object("public", "SCHEMA", "CREATE SCHEMA public;").replace("Schema: scheduler", "Schema: -"),
    object("scheduler", "SCHEMA", "CREATE SCHEMA scheduler;").replace("Schema: scheduler", "Schema: -"),
    object("DEFAULT PRIVILEGES FOR TABLES", "DEFAULT ACL", "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO anon;"),
    ...members.map((m) => object(`${m}()`, "FUNCTION", `CREATE FUNCTION scheduler.${m}() RETURNS void AS $$ select $$;`)),
    ...extra,
    `${SECTION} cron jobs`,
    "select cron.schedule('daybreak-trigger', '*/5 * * * *', 'select 1');",
    `${SECTION} scheduler.config as migrated`,
    "-- heartbeat_seconds = 5: how often a live processor reports",
  ].join("\n");
}

const fileHolding = (files: Map<string, string>, text: string) => [...files].filter(([, t]) => t.includes(text)).map(([name]) => name);

describe("the generated schema's files", () => {
  it("are each at most the line limit, and the index names every one of them", () => {
    const dir = path.join(ROOT, "supabase/schema");
    const index = fs.readFileSync(path.join(ROOT, "supabase/schema.sql"), "utf8");
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".sql"));
    expect(files.sort()).toEqual(SCHEMA_FAMILIES.map((f) => `${f.file}.sql`).sort());
    for (const file of files) {
      expect(fs.readFileSync(path.join(dir, file), "utf8").split("\n").length - 1, file).toBeLessThanOrEqual(MAX_SCHEMA_FILE_LINES);
      expect(index).toContain(`-- schema/${file}: `);
    }
  });

  it("put an index, a constraint, a grant and a comment with their table or function, a trigger with the function it runs", () => {
    const files = splitSchema(
      dump([
        object("processors", "TABLE", "CREATE TABLE scheduler.processors (id uuid);"),
        object("processors_live", "INDEX", "CREATE INDEX processors_live ON scheduler.processors USING btree (id);"),
        object("processors processors_pkey", "CONSTRAINT", "ALTER TABLE ONLY scheduler.processors ADD CONSTRAINT processors_pkey PRIMARY KEY (id);"),
        object("processors_id_seq", "SEQUENCE", "ALTER TABLE scheduler.processors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;"),
        object("SEQUENCE processors_id_seq", "ACL", "GRANT ALL ON SEQUENCE scheduler.processors_id_seq TO service_role;"),
        object("FUNCTION learn_pace(p jsonb)", "COMMENT", "COMMENT ON FUNCTION scheduler.learn_pace IS 'what the pace learns';"),
        object("processors processors_own", "POLICY", "CREATE POLICY processors_own ON scheduler.processors USING (true);"),
        object("CONSTRAINT processors_pkey ON processors", "COMMENT", "COMMENT ON CONSTRAINT processors_pkey ON scheduler.processors IS 'one row each';"),
        object("processors_seq", "SEQUENCE OWNED BY", "ALTER SEQUENCE scheduler.processors_seq OWNED BY scheduler.processors.id;"),
        object("prompt_results prompt_results_store_suggestions", "TRIGGER", "CREATE TRIGGER t AFTER INSERT ON public.prompt_results EXECUTE FUNCTION scheduler.store_prompt_suggestions();"),
      ]),
    );
    for (const text of ["CREATE INDEX processors_live", "ADD CONSTRAINT processors_pkey", "GRANT ALL ON SEQUENCE scheduler.processors_id_seq",
      "CREATE POLICY processors_own", "COMMENT ON CONSTRAINT processors_pkey", "OWNED BY scheduler.processors.id"]) {
      expect(fileHolding(files, text), text).toEqual(["schema/fleet.sql"]);
    }
    expect(fileHolding(files, "COMMENT ON FUNCTION scheduler.learn_pace")).toEqual(["schema/learn-pace.sql"]);
    expect(fileHolding(files, "CREATE TRIGGER t")).toEqual(["schema/suggestions.sql"]);
    expect(fileHolding(files, "select cron.schedule('daybreak-trigger'")).toEqual(["schema/cron.sql"]);
    expect(files.get("schema.sql")).toContain("create extension if not exists pg_cron");
  });

  it("refuse an object of a type they have no rule for", () => {
    const domain = object("positive", "DOMAIN", "CREATE DOMAIN scheduler.positive AS integer CHECK (VALUE > 0);");
    expect(() => splitSchema(dump([domain]))).toThrow(/no rule for an object of type DOMAIN \(positive\)/);
  });

  it("refuse an object no family holds, naming it", () => {
    const unplaced = object("mystery_function()", "FUNCTION", "CREATE FUNCTION scheduler.mystery_function() RETURNS void AS $$ select $$;");
    expect(() => splitSchema(dump([unplaced]))).toThrow(/FUNCTION mystery_function\(\) \(belongs to mystery_function\)/);
  });

  it("refuse a file over the line limit, naming it", () => {
    const body = Array.from({ length: MAX_SCHEMA_FILE_LINES }, (_, i) => `  -- line ${i}`).join("\n");
    const long = object("FUNCTION plan_runs(p uuid[])", "COMMENT", `COMMENT ON FUNCTION scheduler.plan_runs IS '\n${body}\n';`);
    expect(() => splitSchema(dump([long]))).toThrow(/supabase\/schema\/planning\.sql: \d+ lines/);
  });
});
