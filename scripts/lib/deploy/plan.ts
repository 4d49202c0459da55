// The deploy plan: the Supabase CLI steps for a mode, with the files they read (dotenv secrets,
// the Vault upsert) as text whose secret parts stay marked. Pure: tests check it without a network.
import type { Env } from "../cli-env.ts";
import { type DeployConfig, DEPLOYED_FUNCTIONS, FILE_ARG, type Mode, PROVIDER_KEY_VARS, ROTATION_WAIT_MINUTES, VAULT_NAMES } from "./config.ts";
import type { Part } from "./secrets.ts";

export interface Step {
  title: string;
  /** Arguments after `supabase`; never a secret. FILE_ARG stands for the step's file. */
  args: string[];
  file?: { name: string; parts: Part[] };
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

/** Upserts Vault secrets by name (create_secret, or update_secret when the name exists), in one
 * statement. Values that are secret are SecretParts; the functions URL is not a secret. */
export function vaultUpsertSql(entries: { name: string; value: Part; description: string }[]): Part[] {
  const parts: Part[] = [
    "-- daybreak (scripts/deploy): the Vault secrets the pg_cron jobs read (vault.decrypted_secrets).\n",
    "do $daybreak$\nbegin\n",
  ];
  for (const e of entries) {
    const literal = (): Part[] =>
      typeof e.value === "string" ? [sqlLiteral(e.value)] : ["'", { secret: e.value.secret.replaceAll("'", "''") }, "'"];
    parts.push(
      `  if exists (select 1 from vault.secrets where name = ${sqlLiteral(e.name)}) then\n`,
      `    perform vault.update_secret((select id from vault.secrets where name = ${sqlLiteral(e.name)}), `, ...literal(), ");\n",
      "  else\n",
      "    perform vault.create_secret(", ...literal(), `, ${sqlLiteral(e.name)}, ${sqlLiteral(e.description)});\n`,
      "  end if;\n",
    );
  }
  parts.push("end\n$daybreak$;\n");
  return parts;
}

const link = (ref: string): Step => ({
  title: "link the project (the CLI reads SUPABASE_ACCESS_TOKEN and SUPABASE_DB_PASSWORD from the environment)",
  args: ["link", "--project-ref", ref],
});

const vaultStep = (title: string, parts: Part[]): Step => ({
  title,
  args: ["db", "query", "--remote", "--yes", "--file", FILE_ARG],
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
      steps: [{
        title: "stop accepting the previous cron secret",
        args: ["secrets", "unset", "CRON_SECRET_PREVIOUS", "--project-ref", ref, "--yes"],
      }],
      next: ["rotation finished: only the new CRON_SECRET is accepted."],
    };
  }
  if (c.mode === "rotate") {
    return {
      mode: c.mode,
      projectRef: ref,
      steps: [
        link(ref),
        {
          title: "functions accept the new secret and, until the rotation is finished, the old one",
          args: ["secrets", "set", "--env-file", FILE_ARG, "--project-ref", ref],
          file: { name: "secrets.env", parts: envFile([["CRON_SECRET", c.cronSecret!], ["CRON_SECRET_PREVIOUS", c.cronSecretPrevious!]]) },
        },
        vaultStep("switch the pg_cron jobs to the new secret (Vault daybreak_cron_secret)", vaultUpsertSql([cronSecretEntry(c.cronSecret!)])),
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
  ];
  return {
    mode: c.mode,
    projectRef: ref,
    steps: [
      link(ref),
      { title: "apply the migrations to the linked project", args: ["db", "push", "--remote", "--yes"] },
      {
        title: `set the functions' secrets (${secrets.map(([n]) => n).join(", ")})`,
        args: ["secrets", "set", "--env-file", FILE_ARG, "--project-ref", ref],
        file: { name: "secrets.env", parts: envFile(secrets) },
      },
      ...DEPLOYED_FUNCTIONS.map((name): Step => ({
        title: `deploy ${name} (JWT verification off: it authenticates each call itself)`,
        // --use-api bundles on Supabase's side, so no Docker is needed on the deploying machine.
        args: ["functions", "deploy", name, "--no-verify-jwt", "--use-api", "--project-ref", ref],
      })),
      vaultStep("store the functions URL and cron secret in Vault for the pg_cron jobs", vaultUpsertSql([
        { name: VAULT_NAMES.functionsUrl, value: functionsUrl(ref), description: "daybreak: base URL of the edge functions" },
        cronSecretEntry(c.cronSecret!),
      ])),
    ],
    next: [
      `deployed to ${ref}. Check it: scripts/status (DATABASE_URL = the project's connection string),`,
      `and a manual call: SUPABASE_URL=https://${ref}.supabase.co scripts/trigger --reconcile --dry-run`,
    ],
  };
}

/** Every secret value a plan or the environment holds: masked in anything printed. */
export function secretValues(plan: Plan, env: Env): string[] {
  const values = new Set<string>();
  for (const step of plan.steps) for (const p of step.file?.parts ?? []) if (typeof p !== "string") values.add(p.secret);
  for (const name of ["SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD", "CRON_SECRET", "CRON_SECRET_PREVIOUS", "SUPABASE_SERVICE_ROLE_KEY", ...PROVIDER_KEY_VARS]) {
    if (env[name]) values.add(env[name]!);
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...values].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
}
