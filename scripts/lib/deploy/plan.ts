// The deploy plan: the Supabase CLI steps for a mode, with the files they read (dotenv secrets,
// the Vault upsert) as text whose secret parts stay marked. Pure: tests check it without a network.
// Every step names its project itself (--remote=<ref>): nothing is linked, so a deploy never
// re-points the operator's checkout at another project. Hosted changes need --yes without a TTY.
import type { Env } from "../cli-env.ts";
import { type DeployConfig, DEPLOYED_FUNCTIONS, FILE_ARG, type Mode, PROVIDER_KEY_VARS, ROTATION_WAIT_MINUTES, VAULT_NAMES } from "./config.ts";
import type { Part } from "./secrets.ts";

export interface Step {
  title: string;
  /** Arguments after `supabase`; never a secret. FILE_ARG stands for the step's file. */
  args: string[];
  file?: { name: string; parts: Part[] };
  /** Secret values the CLI reads from its environment for this step only (shown as ****). */
  secretEnv?: Record<string, string>;
}

export interface Plan {
  mode: Mode;
  projectRef: string;
  steps: Step[];
  /** Printed after the steps: what the operator does next. */
  next: string[];
}

export function functionsUrl(projectRef: string): string {
  return `https://${projectRef}.supabase.co/functions/v1`;
}

/** A dotenv file of NAME=value lines. */
export function envFile(entries: [string, string][]): Part[] {
  return entries.flatMap(([name, value]) => [`${name}=`, { secret: value }, "\n"]);
}

const sqlLiteral = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** Upserts Vault secrets by name: update_secret where the name exists, create_secret where it does
 * not. Plain SELECTs, never a DO block: pg_stat_statements (on by default on hosted) keeps a
 * utility statement's text verbatim but stores a plain statement with its constants replaced by
 * $n, so no statement text it keeps holds a secret. Secret values are SecretParts. */
export function vaultUpsertSql(entries: { name: string; value: Part; description: string }[]): Part[] {
  const parts: Part[] = ["-- daybreak (scripts/deploy): the Vault secrets the pg_cron jobs read (vault.decrypted_secrets).\n"];
  for (const e of entries) {
    const value: Part[] = typeof e.value === "string" ? [sqlLiteral(e.value)] : ["'", { secret: e.value.secret.replaceAll("'", "''") }, "'"];
    const name = sqlLiteral(e.name);
    parts.push(
      "select vault.update_secret(s.id, ", ...value, `) from vault.secrets s where s.name = ${name};\n`,
      "select vault.create_secret(", ...value, `, ${name}, ${sqlLiteral(e.description)})\n`,
      ` where not exists (select 1 from vault.secrets s where s.name = ${name});\n`,
    );
  }
  return parts;
}

const remote = (ref: string) => `--remote=${ref}`;

const setSecrets = (ref: string, title: string, entries: [string, string][]): Step => ({
  title,
  args: ["secrets", "set", "--env-file", FILE_ARG, remote(ref), "--yes"],
  file: { name: "secrets.env", parts: envFile(entries) },
});

const vaultStep = (ref: string, title: string, parts: Part[]): Step => ({
  title,
  args: ["db", "query", remote(ref), "--yes", "--file", FILE_ARG],
  file: { name: "vault.sql", parts },
});

const cronSecretEntry = (secret: string) => ({
  name: VAULT_NAMES.cronSecret,
  value: { secret } as Part,
  description: "daybreak: x-cron-secret the pg_cron jobs send to the edge functions",
});

export function buildPlan(c: DeployConfig): Plan {
  const ref = c.projectRef;
  if (c.mode === "finish-rotation") {
    return {
      mode: c.mode,
      projectRef: ref,
      steps: [{ title: "stop accepting the previous cron secret", args: ["secrets", "unset", "CRON_SECRET_PREVIOUS", remote(ref), "--yes"] }],
      next: ["rotation finished: only the new CRON_SECRET is accepted."],
    };
  }
  if (c.mode === "rotate") {
    return {
      mode: c.mode,
      projectRef: ref,
      steps: [
        setSecrets(ref, "functions accept the new secret and, until the rotation is finished, the old one",
          [["CRON_SECRET", c.cronSecret!], ["CRON_SECRET_PREVIOUS", c.cronSecretPrevious!]]),
        vaultStep(ref, "switch the pg_cron jobs to the new secret (Vault daybreak_cron_secret)", vaultUpsertSql([cronSecretEntry(c.cronSecret!)])),
      ],
      next: [
        "rotation part 1 done: functions accept both secrets; pg_cron now sends the new one.",
        "Update every other caller that sends x-cron-secret (e.g. the GitHub Actions secret) to the new value.",
        `After at least ${ROTATION_WAIT_MINUTES} minutes (one cron interval, so requests queued with the old secret have been sent),`,
        "check that nothing still authenticates with the old secret:",
        "  select started_at, function_name, trigger_source from scheduler.scheduler_runs",
        `   where auth_method = 'cron_secret_previous' and started_at > now() - interval '${ROTATION_WAIT_MINUTES} minutes';`,
        `then finish: scripts/deploy --finish-rotation --project-ref ${ref}`,
      ],
    };
  }
  const secrets: [string, string][] = [
    ["CRON_SECRET", c.cronSecret!],
    ...(c.cronSecretPrevious ? [["CRON_SECRET_PREVIOUS", c.cronSecretPrevious] as [string, string]] : []),
    ...c.providerKeys,
    ...c.functionSettings,
  ];
  return {
    mode: c.mode,
    projectRef: ref,
    steps: [
      // First: it also proves the access token and the project ref before the database is touched.
      setSecrets(ref, `set the functions' secrets (${secrets.map(([n]) => n).join(", ")})`, secrets),
      {
        title: "apply the migrations (DATABASE_URL; the password goes in PGPASSWORD, TLS required)",
        args: ["db", "push", `--remote=${c.database!.url}`, "--yes"],
        secretEnv: { PGPASSWORD: c.database!.password },
      },
      {
        // One command: every function is uploaded and bundled before any goes live, then one update
        // makes them live (one that fails to bundle keeps its previous version; the step fails).
        title: `deploy the functions (${DEPLOYED_FUNCTIONS.join(", ")}): bundled by Supabase (--use-api, ` +
          "no Docker), then made live in one update; JWT verification off, each authenticates its calls itself",
        args: ["functions", "deploy", ...DEPLOYED_FUNCTIONS, "--no-verify-jwt", "--use-api", remote(ref), "--yes"],
      },
      vaultStep(ref, "store the functions URL and cron secret in Vault for the pg_cron jobs", vaultUpsertSql([
        { name: VAULT_NAMES.functionsUrl, value: functionsUrl(ref), description: "daybreak: base URL of the edge functions" },
        cronSecretEntry(c.cronSecret!),
      ])),
    ],
    next: [
      `deployed to ${ref}. Check it: scripts/status (with the same DATABASE_URL),`,
      `and a manual call: SUPABASE_URL=https://${ref}.supabase.co scripts/trigger --reconcile --dry-run`,
    ],
  };
}

/** The environment variables with secrets that scripts/deploy reads. Of them, the CLI is given
 * only SUPABASE_ACCESS_TOKEN (execute.ts); the database password reaches it per step. */
export const SECRET_INPUTS = Object.freeze(["SUPABASE_ACCESS_TOKEN", "DATABASE_URL", "CRON_SECRET", "CRON_SECRET_PREVIOUS", "SUPABASE_SERVICE_ROLE_KEY",
  "DAYBREAK_METRICS_TOKEN", "DAYBREAK_METRICS_TOKEN_PREVIOUS", ...PROVIDER_KEY_VARS]);

/** Every secret value a plan or the environment holds: masked in anything printed. */
export function secretValues(plan: Plan, env: Env): string[] {
  const values = new Set<string>();
  for (const step of plan.steps) {
    for (const p of step.file?.parts ?? []) if (typeof p !== "string") values.add(p.secret);
    for (const v of Object.values(step.secretEnv ?? {})) values.add(v).add(encodeURIComponent(v));
  }
  for (const name of SECRET_INPUTS) if (env[name]) values.add(env[name]!);
  // Longest first, so a secret that contains another is masked whole.
  return [...values].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
}
