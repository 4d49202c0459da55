// scripts/deploy with the real Supabase CLI against the Management API stand-in and the suite's
// database (test/helpers/deploy.ts): the steps in order, what each function upload carries, the
// secrets arriving at the project and in Vault, and no secret on any command line, in any output,
// in the stand-in's log or in the statement texts pg_stat_statements keeps. Also a failing step,
// and the cron secret rotation in its two parts.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { runCommand } from "../../harness/processes.ts";
import { DENO_BIN, DENO_DIR, IMPORT_MAP } from "../../scripts/lib/deno.ts";
import { DEPLOYED_FUNCTIONS, VAULT_NAMES } from "../../scripts/lib/deploy/config.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { type DeployRig, PROJECT_REF, startDeployRig } from "../helpers/deploy.ts";

const IMPORT_MAP_PATH = "functions/import_map.json";
const PACKAGE_VERSIONS = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies as Record<string, string>;

let rig: DeployRig;
let sql: Sql;
let first: Awaited<ReturnType<DeployRig["deploy"]>>;

beforeAll(async () => {
  sql = connect(2, "deploy-test");
  await sql`delete from vault.secrets where name in (${VAULT_NAMES.functionsUrl}, ${VAULT_NAMES.cronSecret})`;
  rig = await startDeployRig();
  first = await rig.deploy([]);
});
afterAll(async () => {
  await rig?.close();
  if (!sql) return;
  await sql`delete from vault.secrets where name in (${VAULT_NAMES.functionsUrl}, ${VAULT_NAMES.cronSecret})`;
  await sql.end();
});

/** The recorder's command lines with temp file paths replaced by <file>. */
const commandLines = (log: string[]) =>
  log.filter((l) => l.startsWith("ARGV ")).map((l) => l.slice(5).replace(/\S*daybreak-deploy-\S+\/(secrets\.env|vault\.sql)/g, "<file>"));

function expectNoSecretIn(text: string) {
  for (const s of rig.allSecrets()) expect(text, `secret ${s.slice(0, 6)}… leaked`).not.toContain(s);
}

/** The local files of a function's module graph, as Deno resolves it through the import map. */
async function localModules(entrypoint: string): Promise<string[]> {
  const r = await runCommand(DENO_BIN, ["info", "--json", "--no-config", "--import-map", IMPORT_MAP, entrypoint], ROOT, { PATH: process.env.PATH!, DENO_DIR, NO_COLOR: "1" });
  expect(r.code, r.stderr).toBe(0);
  const graph = JSON.parse(r.stdout) as { modules: { local?: string; kind?: string }[] };
  return graph.modules.filter((m) => m.kind === "esm" && m.local).map((m) => path.relative(ROOT, m.local!));
}

describe("scripts/deploy with the real Supabase CLI", () => {
  it("runs secrets set, db push, one functions deploy of all five and the Vault query; secrets only in 0600 files and PGPASSWORD", () => {
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const log = rig.argvLog();
    const dbUrl = commandLines(log)[1]!.match(/--remote=(\S+)/)![1]!;
    expect(new URL(dbUrl).password).toBe("");
    expect(new URL(dbUrl).searchParams.get("sslmode")).toBe("require");
    expect(commandLines(log)).toEqual([
      `secrets set --env-file <file> --remote=${PROJECT_REF} --yes`,
      `db push --remote=${dbUrl} --yes`,
      `functions deploy ${DEPLOYED_FUNCTIONS.join(" ")} --no-verify-jwt --use-api --remote=${PROJECT_REF} --yes`,
      `db query --remote=${PROJECT_REF} --yes --file <file>`,
    ]);
    expectNoSecretIn(log.join("\n"));
    // Of the secret-bearing variables, the CLI gets its access token, and PGPASSWORD for the push only.
    expect(log.filter((l) => l.startsWith("ENV")).map((l) => l.slice(3).trim())).toEqual([
      "SUPABASE_ACCESS_TOKEN", "SUPABASE_ACCESS_TOKEN PGPASSWORD", "SUPABASE_ACCESS_TOKEN", "SUPABASE_ACCESS_TOKEN",
    ]);
    const files = log.filter((l) => l.startsWith("FILE ")).map((l) => l.split(" "));
    expect(files.map(([, f]) => path.basename(f!))).toEqual(["secrets.env", "vault.sql"]);
    for (const [, , mode] of files) expect(mode).toBe("600");
    // Every temp directory is gone.
    expect(readdirSync(rig.tmp).filter((f) => f.startsWith("daybreak-deploy-"))).toEqual([]);
    // The migrations went to the database, the password from PGPASSWORD (already migrated: a no-op).
    expect(first.stdout + first.stderr).toContain("Remote database is up to date.");
    expectNoSecretIn(first.stdout + first.stderr);
  });

  it("talks to the Management API in that order, and its log holds no secret", () => {
    const calls = rig.api.requests().map((r) => `${r.method} ${r.path.replace(`/v1/projects/${PROJECT_REF}`, "{ref}")}${r.query.slug ? ` ${r.query.slug}${r.query.bundleOnly ? " (bundle only)" : ""}` : ""} → ${r.status}`);
    expect(calls).toEqual([
      "POST {ref}/secrets → 201",
      "GET {ref} → 200",
      ...DEPLOYED_FUNCTIONS.map((f) => `POST {ref}/functions/deploy ${f} (bundle only) → 201`),
      "PUT {ref}/functions → 200",
      "POST {ref}/database/query → 201",
    ]);
    expectNoSecretIn(JSON.stringify(rig.api.requests()));
  });

  it("sets the functions' secrets on the project", () => {
    expect(Object.fromEntries(rig.api.secrets())).toEqual({
      CRON_SECRET: rig.secrets.CRON_SECRET,
      OPENAI_API_KEY: rig.secrets.OPENAI_API_KEY,
      GROQ_API_KEY: rig.secrets.GROQ_API_KEY,
    });
  });

  it("uploads each function's entrypoint, exactly the files it imports, and the one import map, pinned to package.json", async () => {
    const deploys = rig.api.deploys();
    expect(deploys.map((d) => d.slug)).toEqual([...DEPLOYED_FUNCTIONS]);
    for (const d of deploys) {
      const entrypoint = `functions/${d.slug}/index.ts`;
      expect(d).toMatchObject({ entrypointPath: entrypoint, importMapPath: IMPORT_MAP_PATH, verifyJwt: false, bundleOnly: true });
      expect([...d.files.keys()].sort(), d.slug).toEqual([...(await localModules(entrypoint)), IMPORT_MAP_PATH].sort());
      for (const [name, data] of d.files) expect(data.equals(readFileSync(path.join(ROOT, name))), name).toBe(true);
    }
    const map = JSON.parse(deploys[0]!.files.get(IMPORT_MAP_PATH)!.toString("utf8")) as { imports: Record<string, string> };
    expect(Object.keys(map)).toEqual(["imports"]);
    for (const [name, target] of Object.entries(map.imports)) expect(target).toBe(`npm:${name}@${PACKAGE_VERSIONS[name]}`);
    expect(Object.keys(map.imports).sort()).toEqual(["date-fns", "date-fns-tz", "postgres", "zod"]);
    // All five went live together, by the bulk update that followed the uploads.
    const live = rig.api.functions();
    expect([...live.keys()].sort()).toEqual([...DEPLOYED_FUNCTIONS].sort());
    for (const f of live.values()) expect(f).toMatchObject({ status: "ACTIVE", verify_jwt: false, import_map_path: IMPORT_MAP_PATH });
  });

  it("stores the functions URL and the cron secret in Vault, and no statement text pg_stat_statements keeps holds a secret", async () => {
    const rows = await sql<{ name: string; decrypted_secret: string }[]>`
      select name, decrypted_secret from vault.decrypted_secrets where name in (${VAULT_NAMES.functionsUrl}, ${VAULT_NAMES.cronSecret}) order by name`;
    expect(rows).toEqual([
      { name: VAULT_NAMES.cronSecret, decrypted_secret: rig.secrets.CRON_SECRET },
      { name: VAULT_NAMES.functionsUrl, decrypted_secret: `https://${PROJECT_REF}.supabase.co/functions/v1` },
    ]);
    // The upserts were tracked, with their constants replaced...
    const tracked = await sql<{ query: string }[]>`
      select query from extensions.pg_stat_statements where query like '%vault.create_secret($1, $2, $3)%' or query like '%vault.update_secret(s.id, $1)%'`;
    expect(tracked.length).toBeGreaterThanOrEqual(2);
    // ...and no kept text holds any secret.
    for (const secret of rig.allSecrets()) {
      const leaks = await sql`select query from extensions.pg_stat_statements where position(${secret} in query) > 0`;
      expect(leaks, `pg_stat_statements keeps a secret (${secret.slice(0, 6)}…)`).toEqual([]);
    }
  });
});

describe("scripts/deploy with an incomplete environment", () => {
  it("lists every missing variable, exits 2, runs no CLI and sends nothing", async () => {
    rig.api.reset();
    rig.clearArgvLog();
    const r = await rig.deploy([], { SUPABASE_ACCESS_TOKEN: "", DATABASE_URL: "", SUPABASE_PROJECT_REF: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing was run/);
    for (const name of ["SUPABASE_PROJECT_REF", "SUPABASE_ACCESS_TOKEN", "DATABASE_URL"]) expect(r.stderr).toContain(name);
    expect(r.stderr).not.toMatch(/missing[^\n]*CRON_SECRET/); // it is set
    expect(r.stdout).toBe("");
    expect(rig.argvLog()).toEqual([]);
    expect(rig.api.requests()).toEqual([]);
    expectNoSecretIn(r.stdout + r.stderr);
  });
});

describe("scripts/deploy when a step fails", () => {
  it("stops at it, says which, runs nothing after it and leaves no secret file behind", async () => {
    rig.api.reset();
    rig.clearArgvLog();
    rig.api.refuseNext({ method: "POST", path: /\/functions\/deploy$/, slug: "robust-batch-processor", status: 400, message: "Failed to bundle the function" });
    const r = await rig.deploy([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/step 3\/4 failed \(supabase exited with \d+\): deploy the functions \(daily-batch-trigger/);
    expect(r.stdout + r.stderr).toContain("Failed to bundle the function");
    expect(rig.api.requests().some((q) => q.path.endsWith("/database/query"))).toBe(false);
    // The CLI still makes live the functions that did bundle (measured: one bulk update of the
    // four); the one that failed keeps its previous version. The rerun deploys all five.
    expect([...rig.api.functions().keys()].sort()).toEqual(DEPLOYED_FUNCTIONS.filter((f) => f !== "robust-batch-processor").sort());
    expect(readdirSync(rig.tmp).filter((f) => f.startsWith("daybreak-deploy-"))).toEqual([]);
    expectNoSecretIn(r.stdout + r.stderr + rig.argvLog().join("\n"));
  });
});

describe("scripts/deploy --rotate-secret, then --finish-rotation", () => {
  it("functions accept both secrets, Vault switches to the new one; then the old one is unset", async () => {
    rig.api.reset();
    rig.clearArgvLog();
    const next = `deploy-test-new-cron-secret-${Date.now()}-0123456789`;
    const rotate = await rig.deploy(["--rotate-secret"], { CRON_SECRET: next, CRON_SECRET_PREVIOUS: rig.secrets.CRON_SECRET });
    expect(rotate.code, rotate.stdout + rotate.stderr).toBe(0);
    expect(Object.fromEntries(rig.api.secrets())).toEqual({ CRON_SECRET: next, CRON_SECRET_PREVIOUS: rig.secrets.CRON_SECRET });
    const [vault] = await sql<{ decrypted_secret: string }[]>`select decrypted_secret from vault.decrypted_secrets where name = ${VAULT_NAMES.cronSecret}`;
    expect(vault!.decrypted_secret).toBe(next);

    const finish = await rig.deploy(["--finish-rotation"], { CRON_SECRET: next });
    expect(finish.code, finish.stdout + finish.stderr).toBe(0);
    expect(Object.fromEntries(rig.api.secrets())).toEqual({ CRON_SECRET: next });
    expect(commandLines(rig.argvLog())).toEqual([
      `secrets set --env-file <file> --remote=${PROJECT_REF} --yes`,
      `db query --remote=${PROJECT_REF} --yes --file <file>`,
      `secrets unset CRON_SECRET_PREVIOUS --remote=${PROJECT_REF} --yes`,
    ]);
    expectNoSecretIn(rotate.stdout + rotate.stderr + finish.stdout + finish.stderr + rig.argvLog().join("\n") + JSON.stringify(rig.api.requests()));
    const leaks = await sql`select query from extensions.pg_stat_statements where position(${next} in query) > 0`;
    expect(leaks).toEqual([]);
  });
});
