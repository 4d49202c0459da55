// scripts/deploy for real: the real Supabase CLI (npm `supabase`) against the Management API
// stand-in (harness/management-api), from a copy of this checkout, so the CLI's project cache
// (supabase/.temp) lands in the copy and never in the checkout under test. The CLI reaches the
// stand-in through a profile (SUPABASE_PROFILE) and a fake `sbp_` token; a private HOME and
// TMPDIR; the migrations go to the suite's database. An argv recorder sits in front of the CLI
// (DAYBREAK_SUPABASE_BIN): it logs each command line, the names of the secret-bearing variables
// the CLI is given and the mode of each file it names, then runs the real CLI with the same
// arguments. The deploy logs in as a role of its own, made for the
// run with a random password (given to Postgres as a SCRAM verifier, so no statement text holds
// it), a member of postgres as on hosted.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, databaseUrl } from "../../harness/db.ts";
import { type ManagementApi, startManagementApi } from "../../harness/management-api/index.ts";
import { fakeAccessToken, writeCliProfile } from "../../harness/management-api/profile.ts";
import { type CommandResult, runCommand } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

export const PROJECT_REF = "daybreakstandinprojx";

/** What scripts/deploy runs from: every file it and the CLI read, node_modules linked. */
const CHECKOUT_PARTS = ["package.json", "scripts", "supabase", "functions"];

const ARGV_RECORDER = `#!/usr/bin/env bash
# Logs the command line, which secret-bearing variables the CLI gets, and the mode of every
# --env-file/--file; then runs the real CLI.
printf 'ARGV %s\\n' "$*" >>"$ARGV_LOG"
printf 'ENV'>>"$ARGV_LOG"
for v in SUPABASE_ACCESS_TOKEN PGPASSWORD DATABASE_URL CRON_SECRET CRON_SECRET_PREVIOUS OPENAI_API_KEY GROQ_API_KEY; do
  if [ -n "\${!v:-}" ]; then printf ' %s' "$v" >>"$ARGV_LOG"; fi
done
printf '\\n' >>"$ARGV_LOG"
prev=""
for a in "$@"; do
  if [ "$prev" = "--env-file" ] || [ "$prev" = "--file" ]; then printf 'FILE %s %s\\n' "$a" "$(stat -c %a "$a")" >>"$ARGV_LOG"; fi
  prev="$a"
done
exec "$REAL_SUPABASE" "$@"
`;

export interface DeploySecrets {
  SUPABASE_ACCESS_TOKEN: string;
  CRON_SECRET: string;
  OPENAI_API_KEY: string;
  GROQ_API_KEY: string;
  /** The database password, taken from DATABASE_URL. */
  databasePassword: string;
}

export interface DeployRig {
  api: ManagementApi;
  /** The copy of the checkout scripts/deploy runs from. */
  checkout: string;
  /** TMPDIR of the deploy: its temp directories appear here. */
  tmp: string;
  secrets: DeploySecrets;
  /** Runs <checkout>/scripts/deploy with exactly the rig's environment plus `env`. */
  deploy(args: string[], env?: Record<string, string>): Promise<CommandResult>;
  /** The recorder's log: command lines and file modes, in order. */
  argvLog(): string[];
  clearArgvLog(): void;
  /** Every secret value in play, for "appears nowhere" checks. */
  allSecrets(): string[];
  close(): Promise<void>;
}

/** What Postgres stores for a SCRAM-SHA-256 password (RFC 5802, RFC 7677). */
function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const iterations = 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const storedKey = createHash("sha256").update(createHmac("sha256", salted).update("Client Key").digest()).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

function copyCheckout(to: string): void {
  for (const part of CHECKOUT_PARTS) {
    fs.cpSync(path.join(ROOT, part), path.join(to, part), {
      recursive: true,
      filter: (src) => path.basename(src) !== ".temp",
    });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(to, "node_modules"));
}

export async function startDeployRig(): Promise<DeployRig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-rig-"));
  const checkout = path.join(dir, "checkout");
  const home = path.join(dir, "home");
  const tmp = path.join(dir, "tmp");
  for (const d of [checkout, home, tmp]) fs.mkdirSync(d);
  copyCheckout(checkout);
  const recorder = path.join(dir, "supabase-argv-recorder");
  fs.writeFileSync(recorder, ARGV_RECORDER, { mode: 0o755 });
  const argvLog = path.join(dir, "argv.log");

  const secrets: DeploySecrets = {
    SUPABASE_ACCESS_TOKEN: fakeAccessToken(),
    CRON_SECRET: `deploy-test-cron-${randomBytes(16).toString("hex")}`,
    OPENAI_API_KEY: `sk-deploy-test-${randomBytes(8).toString("hex")}`,
    GROQ_API_KEY: `gsk_deploy_test_${randomBytes(8).toString("hex")}`,
    databasePassword: `db-${randomBytes(12).toString("hex")}`,
  };
  const role = `daybreak_deployer_${randomBytes(4).toString("hex")}`;
  const sql = connect(1, "deploy-rig");
  await sql.unsafe(`create role ${role} login in role postgres password '${scramVerifier(secrets.databasePassword)}'`);
  const deployUrl = new URL(databaseUrl());
  deployUrl.username = role;
  deployUrl.password = encodeURIComponent(secrets.databasePassword);
  const api = await startManagementApi({ accessToken: secrets.SUPABASE_ACCESS_TOKEN, projectRef: PROJECT_REF, databaseUrl: databaseUrl() });
  const profile = writeCliProfile(dir, api.url);
  const extra = new Set<string>();

  return {
    api,
    checkout,
    tmp,
    secrets,
    deploy: (args, env = {}) => {
      for (const [name, value] of Object.entries(env)) if (/SECRET|KEY|TOKEN/.test(name) && value) extra.add(value);
      return runCommand(path.join(checkout, "scripts/deploy"), args, checkout, {
        PATH: process.env.PATH!,
        HOME: home,
        TMPDIR: tmp,
        NO_COLOR: "1",
        // The CLI's update check and telemetry would reach for the internet.
        SUPABASE_NO_UPDATE_NOTIFIER: "1",
        SUPABASE_TELEMETRY_DISABLED: "1",
        DO_NOT_TRACK: "1",
        SUPABASE_PROFILE: profile,
        DAYBREAK_SUPABASE_BIN: recorder,
        REAL_SUPABASE: path.join(ROOT, "node_modules/.bin/supabase"),
        ARGV_LOG: argvLog,
        SUPABASE_PROJECT_REF: PROJECT_REF,
        SUPABASE_ACCESS_TOKEN: secrets.SUPABASE_ACCESS_TOKEN,
        DATABASE_URL: deployUrl.toString(),
        CRON_SECRET: secrets.CRON_SECRET,
        OPENAI_API_KEY: secrets.OPENAI_API_KEY,
        GROQ_API_KEY: secrets.GROQ_API_KEY,
        ...env,
      });
    },
    argvLog: () => (fs.existsSync(argvLog) ? fs.readFileSync(argvLog, "utf8").split("\n").filter(Boolean) : []),
    clearArgvLog: () => fs.rmSync(argvLog, { force: true }),
    allSecrets: () => [
      secrets.SUPABASE_ACCESS_TOKEN, secrets.CRON_SECRET, secrets.OPENAI_API_KEY, secrets.GROQ_API_KEY,
      secrets.databasePassword, ...extra,
    ],
    close: async () => {
      await api.close();
      await sql.unsafe(`drop role if exists ${role}`);
      await sql.end();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
