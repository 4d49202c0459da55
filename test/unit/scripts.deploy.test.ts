// scripts/deploy as a child process: the command sequence, secrets never on a command line or in
// the output, and nothing run when the environment is incomplete. The Supabase CLI is replaced by
// a recording fake (DAYBREAK_SUPABASE_BIN), so no network is needed or used.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCommand, type CommandResult } from "../../harness/processes.ts";

import { ROOT } from "../../scripts/lib/root.ts";
const DEPLOY = path.join(ROOT, "scripts/deploy");
const REF = "abcdefghijklmnopqrst";

// Recognisable fake secrets: none of them may appear in any output or argv.
const SECRETS = Object.freeze({
  SUPABASE_ACCESS_TOKEN: "sbp_FAKEACCESSTOKEN0001deadbeef",
  SUPABASE_DB_PASSWORD: "FAKE-db-password-0002",
  CRON_SECRET: "FAKE-cron-secret-0003-abcdefghijklmnopqrstuv",
  OPENAI_API_KEY: "sk-FAKE-openai-key-0004",
  GROQ_API_KEY: "gsk_FAKE_groq_key_0005",
});
const PREVIOUS_SECRET = "FAKE-old-cron-secret-0006-abcdefghijklmnopq";

let dir: string;
let fakeCli: string;
let log: string;

// The fake Supabase CLI: records its argv, the mode and content of any --env-file/--file it is
// given, and behaves like a chatty CLI that echoes the file and the access token to its output.
const FAKE_CLI = `#!/usr/bin/env bash
set -u
log="$FAKE_SUPABASE_LOG"
printf 'ARGV %s\\n' "$*" >> "$log"
prev=""
for a in "$@"; do
  if [ "$prev" = "--env-file" ] || [ "$prev" = "--file" ]; then
    printf 'FILE %s %s\\n' "$a" "$(stat -c %a "$a")" >> "$log"
    sed 's/^/CONTENT /' "$a" >> "$log"
    cat "$a"
  fi
  prev="$a"
done
echo "using token $SUPABASE_ACCESS_TOKEN and password $SUPABASE_DB_PASSWORD" >&2
if [ -n "\${FAKE_SUPABASE_FAIL:-}" ] && [[ " $* " == *" $FAKE_SUPABASE_FAIL "* ]]; then
  echo "fake failure" >&2
  exit 1
fi
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-test-"));
  fakeCli = path.join(dir, "supabase");
  writeFileSync(fakeCli, FAKE_CLI);
  chmodSync(fakeCli, 0o755);
  log = path.join(dir, "calls.log");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => rmSync(log, { force: true }));


/** Runs scripts/deploy with exactly this environment (plus PATH/HOME), never the caller's. */
function deploy(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runCommand(DEPLOY, args, dir, {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? dir,
    TMPDIR: dir,
    DAYBREAK_SUPABASE_BIN: fakeCli,
    FAKE_SUPABASE_LOG: log,
    ...env,
  });
}

const fullEnv = { SUPABASE_PROJECT_REF: REF, ...SECRETS };

const EXPECTED_DEPLOY = [
  `link --project-ref ${REF}`,
  "db push --remote --yes",
  `secrets set --env-file <file> --project-ref ${REF}`,
  `functions deploy daily-batch-trigger --no-verify-jwt --use-api --project-ref ${REF}`,
  `functions deploy robust-batch-processor --no-verify-jwt --use-api --project-ref ${REF}`,
  `functions deploy batch-reconciler --no-verify-jwt --use-api --project-ref ${REF}`,
  `functions deploy health --no-verify-jwt --use-api --project-ref ${REF}`,
  `functions deploy daybreak-dashboard --no-verify-jwt --use-api --project-ref ${REF}`,
  "db query --remote --yes --file <file>",
];

/** The `$ supabase ...` lines of a printed plan, temp file paths replaced by <file>. */
function printedCommands(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith("  $ supabase "))
    .map((l) => l.slice("  $ supabase ".length).replace(/\S*daybreak-deploy-\S+\/(secrets\.env|vault\.sql)/g, "<file>"));
}

function recordedCalls(): string[] {
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("ARGV ")).map((l) => l.slice(5)) : [];
}

function expectNoSecretIn(text: string, secrets: string[] = [...Object.values(SECRETS), PREVIOUS_SECRET]) {
  for (const s of secrets) expect(text, `secret ${s.slice(0, 8)}… leaked`).not.toContain(s);
}

describe("scripts/deploy --dry-run", () => {
  it("prints link, db push, secrets set, 4 function deploys (--no-verify-jwt) and the Vault upsert, in order, masked; runs nothing", async () => {
    const r = await deploy(["--dry-run"], fullEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(printedCommands(r.stdout)).toEqual(EXPECTED_DEPLOY);
    expect(r.stdout).toContain("CRON_SECRET=****");
    expect(r.stdout).toContain("OPENAI_API_KEY=****");
    expect(r.stdout).toContain("GROQ_API_KEY=****");
    expect(r.stdout).not.toContain("PERPLEXITY_API_KEY"); // not set → not deployed
    expect(r.stdout).toContain(`'https://${REF}.supabase.co/functions/v1'`);
    expect(r.stdout).toMatch(/vault\.create_secret\('\*\*\*\*', 'daybreak_cron_secret'/);
    expectNoSecretIn(r.stdout + r.stderr);
    expect(existsSync(log)).toBe(false);
  });

  it("--project-ref overrides SUPABASE_PROJECT_REF", async () => {
    const r = await deploy(["--dry-run", "--project-ref", "zyxwvutsrqponmlkjihg"], fullEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(printedCommands(r.stdout)[0]).toBe("link --project-ref zyxwvutsrqponmlkjihg");
  });

  it("--rotate-secret: both secrets on the functions first, then Vault; --finish-rotation unsets the old one", async () => {
    const rotate = await deploy(["--rotate-secret", "--dry-run"], { ...fullEnv, CRON_SECRET_PREVIOUS: PREVIOUS_SECRET });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(printedCommands(rotate.stdout)).toEqual([
      `link --project-ref ${REF}`,
      `secrets set --env-file <file> --project-ref ${REF}`,
      "db query --remote --yes --file <file>",
    ]);
    expect(rotate.stdout).toMatch(/CRON_SECRET=\*\*\*\*\n\s+CRON_SECRET_PREVIOUS=\*\*\*\*/);
    expect(rotate.stdout).not.toContain("daybreak_functions_url");
    expect(rotate.stdout).toContain("scripts/deploy --finish-rotation");
    expectNoSecretIn(rotate.stdout + rotate.stderr);

    const finish = await deploy(["--finish-rotation", "--dry-run"], { SUPABASE_PROJECT_REF: REF, SUPABASE_ACCESS_TOKEN: SECRETS.SUPABASE_ACCESS_TOKEN });
    expect(finish.code, finish.stderr).toBe(0);
    expect(printedCommands(finish.stdout)).toEqual([`secrets unset CRON_SECRET_PREVIOUS --project-ref ${REF} --yes`]);
    expect(existsSync(log)).toBe(false);
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

describe("scripts/deploy refuses an incomplete environment before running anything", () => {
  it("lists every missing variable, exits 2 and calls nothing", async () => {
    const { SUPABASE_ACCESS_TOKEN: _t, CRON_SECRET: _c, ...partial } = fullEnv;
    const r = await deploy([], { ...partial, SUPABASE_PROJECT_REF: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing was run/);
    for (const name of ["SUPABASE_PROJECT_REF", "SUPABASE_ACCESS_TOKEN", "CRON_SECRET"]) expect(r.stderr).toContain(name);
    expect(r.stderr).not.toContain("SUPABASE_DB_PASSWORD"); // it is set
    expect(r.stdout).toBe("");
    expect(recordedCalls()).toEqual([]);
    expectNoSecretIn(r.stdout + r.stderr);
  });

  it("rejects a short CRON_SECRET and a malformed project ref", async () => {
    const r = await deploy([], { ...fullEnv, CRON_SECRET: "too-short", SUPABASE_PROJECT_REF: "My-Project" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CRON_SECRET is 9 characters; it must be at least 32/);
    expect(r.stderr).toMatch(/"My-Project" is not a Supabase project ref/);
    expect(r.stderr).not.toContain("too-short");
    expect(recordedCalls()).toEqual([]);
  });

  it("rejects unknown flags with the usage", async () => {
    const r = await deploy(["--dryrun"], fullEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--dryrun'[\s\S]*usage: scripts\/deploy/);
    expect(recordedCalls()).toEqual([]);
  });
});

describe("scripts/deploy against a recording Supabase CLI", () => {
  it("runs the sequence; secrets travel in 0600 files that are removed, never in argv or output", async () => {
    const r = await deploy([], fullEnv);
    expect(r.code, r.stderr).toBe(0);
    const calls = recordedCalls();
    expect(calls.map((c) => c.replace(/\S*daybreak-deploy-\S+\/(secrets\.env|vault\.sql)/g, "<file>"))).toEqual(EXPECTED_DEPLOY);
    expectNoSecretIn(calls.join("\n"));

    const recorded = readFileSync(log, "utf8");
    const files = [...recorded.matchAll(/^FILE (\S+) (\d+)$/gm)].map((m) => ({ path: m[1]!, mode: m[2]! }));
    expect(files.map((f) => path.basename(f.path))).toEqual(["secrets.env", "vault.sql"]);
    for (const f of files) {
      expect(f.mode).toBe("600");
      expect(existsSync(f.path)).toBe(false);
      expect(existsSync(path.dirname(f.path))).toBe(false);
    }
    // The real values did reach the CLI, through the files.
    expect(recorded).toContain(`CONTENT CRON_SECRET=${SECRETS.CRON_SECRET}`);
    expect(recorded).toContain(`CONTENT OPENAI_API_KEY=${SECRETS.OPENAI_API_KEY}`);
    expect(recorded).toContain(`vault.create_secret('${SECRETS.CRON_SECRET}', 'daybreak_cron_secret'`);
    // The fake CLI echoed the files and the token; scripts/deploy masked them.
    expectNoSecretIn(r.stdout + r.stderr);
    expect(r.stderr).toContain("using token **** and password ****");
    expect(r.stdout).toContain("CRON_SECRET=****");
  });

  it("stops at the first failing step, says which, and leaves no secret file behind", async () => {
    const r = await deploy([], { ...fullEnv, FAKE_SUPABASE_FAIL: "robust-batch-processor" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/step 5\/9 failed \(supabase exited with 1\): deploy robust-batch-processor/);
    const calls = recordedCalls();
    expect(calls).toHaveLength(5);
    expect(calls.some((c) => c.startsWith("db query"))).toBe(false);
    const files = [...readFileSync(log, "utf8").matchAll(/^FILE (\S+) /gm)].map((m) => m[1]!);
    for (const f of files) expect(existsSync(path.dirname(f))).toBe(false);
    expectNoSecretIn(r.stdout + r.stderr);
  });
});
