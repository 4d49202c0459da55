// scripts/deploy's plan, as --dry-run prints it (no CLI is run, no network): the steps in order
// with the flags the Supabase CLI needs, secret values masked, and the environment checked before
// anything. Running the plan with the real CLI: test/e2e/deploy.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CommandResult, runCommand } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const DEPLOY = path.join(ROOT, "scripts/deploy");
const REF = "abcdefghijklmnopqrst";
const dir = mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Recognisable fake secrets: none of them may appear in any output.
const SECRETS = Object.freeze({
  SUPABASE_ACCESS_TOKEN: "sbp_FAKEACCESSTOKEN0001deadbeef",
  CRON_SECRET: "FAKE-cron-secret-0003-abcdefghijklmnopqrstuv",
  OPENAI_API_KEY: "sk-FAKE-openai-key-0004",
  GROQ_API_KEY: "gsk_FAKE_groq_key_0005",
});
const DB_PASSWORD = "FAKE-db-p@ss/0002";
const POOLER = `postgres.${REF}@aws-0-eu-central-1.pooler.supabase.com:5432/postgres`;
const DATABASE_URL = `postgresql://postgres.${REF}:${encodeURIComponent(DB_PASSWORD)}@aws-0-eu-central-1.pooler.supabase.com:5432/postgres`;
const PREVIOUS_SECRET = "FAKE-old-cron-secret-0006-abcdefghijklmnopq";
const fullEnv = { SUPABASE_PROJECT_REF: REF, DATABASE_URL, ...SECRETS };

/** Runs scripts/deploy with exactly this environment (plus PATH/HOME), never the caller's. */
function deploy(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runCommand(DEPLOY, args, dir, { PATH: process.env.PATH!, HOME: dir, TMPDIR: dir, ...env });
}

/** The `$ ... supabase ...` lines of a printed plan, temp file paths replaced by <file>. */
function printedCommands(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith("  $ "))
    .map((l) => l.slice("  $ ".length).replace(/\S*daybreak-deploy-\S+\/(secrets\.env|vault\.sql)/g, "<file>"));
}

function expectNoSecretIn(text: string) {
  for (const s of [...Object.values(SECRETS), PREVIOUS_SECRET, DB_PASSWORD, encodeURIComponent(DB_PASSWORD)]) {
    expect(text, `secret ${s.slice(0, 8)}… leaked`).not.toContain(s);
  }
}

describe("scripts/deploy --dry-run", () => {
  it("prints secrets set, db push, one deploy of the six functions and the Vault upsert, each naming the project, masked", async () => {
    const r = await deploy(["--dry-run"], fullEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(printedCommands(r.stdout)).toEqual([
      `supabase secrets set --env-file <file> --remote=${REF} --yes`,
      `PGPASSWORD=**** supabase db push '--remote=postgresql://${POOLER}?sslmode=require' --yes`,
      `supabase functions deploy daily-batch-trigger robust-batch-processor batch-reconciler health daybreak-dashboard weekly-suggestions --no-verify-jwt --use-api --remote=${REF} --yes`,
      `supabase db query --remote=${REF} --yes --file <file>`,
    ]);
    expect(r.stdout).toContain("CRON_SECRET=****");
    expect(r.stdout).toContain("OPENAI_API_KEY=****");
    expect(r.stdout).toContain("GROQ_API_KEY=****");
    expect(r.stdout).not.toContain("PERPLEXITY_API_KEY"); // not set → not deployed
    expect(r.stdout).toContain(`'https://${REF}.supabase.co/functions/v1'`);
    // Plain statements, no DO block (pg_stat_statements would keep a DO block's text verbatim).
    expect(r.stdout).toMatch(/select vault\.update_secret\(s\.id, '\*\*\*\*'\) from vault\.secrets s where s\.name = 'daybreak_cron_secret';/);
    expect(r.stdout).toMatch(/select vault\.create_secret\('\*\*\*\*', 'daybreak_cron_secret'/);
    expect(r.stdout.toLowerCase()).not.toMatch(/\bdo \$/);
    expectNoSecretIn(r.stdout + r.stderr);
  });

  it("keeps an sslmode the URL names; --project-ref overrides SUPABASE_PROJECT_REF", async () => {
    const other = "zyxwvutsrqponmlkjihg";
    const r = await deploy(["--dry-run", "--project-ref", other], {
      ...fullEnv, DATABASE_URL: `postgresql://postgres:${encodeURIComponent(DB_PASSWORD)}@db.${other}.supabase.co:5432/postgres?sslmode=verify-full`,
    });
    expect(r.code, r.stderr).toBe(0);
    const commands = printedCommands(r.stdout);
    expect(commands[0]).toBe(`supabase secrets set --env-file <file> --remote=${other} --yes`);
    expect(commands[1]).toBe(`PGPASSWORD=**** supabase db push '--remote=postgresql://postgres@db.${other}.supabase.co:5432/postgres?sslmode=verify-full' --yes`);
  });

  it("--rotate-secret: both secrets on the functions first, then Vault; --finish-rotation unsets the old one", async () => {
    const { DATABASE_URL: _unused, ...noDatabase } = fullEnv; // a rotation does not touch the migrations
    const rotate = await deploy(["--rotate-secret", "--dry-run"], { ...noDatabase, CRON_SECRET_PREVIOUS: PREVIOUS_SECRET });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(printedCommands(rotate.stdout)).toEqual([
      `supabase secrets set --env-file <file> --remote=${REF} --yes`,
      `supabase db query --remote=${REF} --yes --file <file>`,
    ]);
    expect(rotate.stdout).toMatch(/CRON_SECRET=\*\*\*\*\n\s+CRON_SECRET_PREVIOUS=\*\*\*\*/);
    expect(rotate.stdout).not.toContain("daybreak_functions_url");
    expect(rotate.stdout).toContain("scripts/deploy --finish-rotation");
    expectNoSecretIn(rotate.stdout + rotate.stderr);

    const finish = await deploy(["--finish-rotation", "--dry-run"], { SUPABASE_PROJECT_REF: REF, SUPABASE_ACCESS_TOKEN: SECRETS.SUPABASE_ACCESS_TOKEN });
    expect(finish.code, finish.stderr).toBe(0);
    expect(printedCommands(finish.stdout)).toEqual([`supabase secrets unset CRON_SECRET_PREVIOUS --remote=${REF} --yes`]);
  });

  it("--rotate-secret needs the old secret, and a different one", async () => {
    const missing = await deploy(["--rotate-secret", "--dry-run"], fullEnv);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing environment variables: CRON_SECRET_PREVIOUS/);
    const same = await deploy(["--rotate-secret", "--dry-run"], { ...fullEnv, CRON_SECRET_PREVIOUS: SECRETS.CRON_SECRET });
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/are the same/);
    expectNoSecretIn(missing.stderr + same.stderr);
  });
});

describe("scripts/deploy checks DATABASE_URL before anything runs", () => {
  const refused = async (url: string, problem: RegExp) => {
    const r = await deploy(["--dry-run"], { ...fullEnv, DATABASE_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(problem);
    expect(r.stdout).toBe("");
    expectNoSecretIn(r.stderr);
  };

  it("needs the password in it, not the dashboard's placeholder", async () => {
    await refused(`postgresql://${POOLER}`, /DATABASE_URL has no password/);
    await refused(`postgresql://postgres.${REF}:[YOUR-PASSWORD]@aws-0-eu-central-1.pooler.supabase.com:5432/postgres`, /placeholder \[YOUR-PASSWORD\]/);
    await refused("mysql://u:p@h/db", /must start with postgresql:\/\//);
  });

  it("refuses another project's database", async () => {
    await refused(DATABASE_URL.replace(`postgres.${REF}`, "postgres.zyxwvutsrqponmlkjihg"), /project zyxwvutsrqponmlkjihg, not of abcdefghijklmnopqrst/);
    await refused(`postgresql://postgres:${encodeURIComponent(DB_PASSWORD)}@db.zyxwvutsrqponmlkjihg.supabase.co:5432/postgres`, /project zyxwvutsrqponmlkjihg/);
  });
});

describe("scripts/deploy usage", () => {
  it("rejects a short CRON_SECRET and a malformed project ref, naming neither value", async () => {
    const r = await deploy(["--dry-run"], { ...fullEnv, CRON_SECRET: "too-short", SUPABASE_PROJECT_REF: "My-Project" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CRON_SECRET is 9 characters; it must be at least 32/);
    expect(r.stderr).toMatch(/"My-Project" is not a Supabase project ref/);
    expect(r.stderr).not.toContain("too-short");
  });

  it("rejects unknown flags with the usage", async () => {
    const r = await deploy(["--dryrun"], fullEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--dryrun'[\s\S]*usage: scripts\/deploy/);
  });
});
