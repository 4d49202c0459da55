// What scripts/deploy is asked to do: its flags and the environment it needs, every problem
// reported at once before anything runs.
import { ConfigError, type Env, parseFlags, UsageError } from "../cli-env.ts";
import { type MigrationTarget, migrationTarget } from "./database-url.ts";

export const DEPLOYED_FUNCTIONS = Object.freeze(["daily-batch-trigger", "robust-batch-processor", "batch-reconciler", "health", "daybreak-dashboard", "weekly-suggestions"]);
export const PROVIDER_KEY_VARS = Object.freeze(["OPENAI_API_KEY", "PERPLEXITY_API_KEY", "GROQ_API_KEY"]);
/** Function settings deployed when set: the read-only token (and the previous one during its
 * rotation), the plan whose worker wall clock the processors plan for, and the pool per worker. */
export const FUNCTION_SETTING_VARS = Object.freeze(["DAYBREAK_METRICS_TOKEN", "DAYBREAK_METRICS_TOKEN_PREVIOUS", "DAYBREAK_EDGE_PLAN", "DAYBREAK_DB_POOL_SIZE"]);
export const VAULT_NAMES = Object.freeze({ functionsUrl: "daybreak_functions_url", cronSecret: "daybreak_cron_secret" });
export const MIN_CRON_SECRET_LENGTH = 32;
/** The longest cron interval (the trigger runs every 5 minutes, the reconciler every 10 seconds) plus pg_net's send delay. */
export const ROTATION_WAIT_MINUTES = 6;
/** Replaced by the step's temp file path when the step runs. */
export const FILE_ARG = "{file}";

export type Mode = "deploy" | "rotate" | "finish-rotation";

export interface DeployConfig {
  mode: Mode;
  projectRef: string;
  /** Where the migrations go (deploy only). */
  database?: MigrationTarget;
  cronSecret?: string;
  cronSecretPrevious?: string;
  /** Provider keys to set on the functions, name → value, in PROVIDER_KEY_VARS order. */
  providerKeys: [string, string][];
  /** Function settings to set, in FUNCTION_SETTING_VARS order. */
  functionSettings: [string, string][];
}

export interface DeployArgs {
  mode: Mode;
  dryRun: boolean;
  projectRef?: string;
}

export function parseDeployArgs(argv: string[]): DeployArgs | "help" {
  const { values } = parseFlags(argv, {
    "dry-run": { type: "boolean" },
    "project-ref": { type: "string" },
    "rotate-secret": { type: "boolean" },
    "finish-rotation": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (values["rotate-secret"] && values["finish-rotation"]) {
    throw new UsageError("--rotate-secret and --finish-rotation are two separate runs, one cron interval apart");
  }
  const mode: Mode = values["rotate-secret"] ? "rotate" : values["finish-rotation"] ? "finish-rotation" : "deploy";
  return { mode, dryRun: values["dry-run"] === true, projectRef: values["project-ref"] };
}

// Values go into a dotenv file and a SQL literal: keep them to characters that need no quoting in
// either (API keys and `openssl rand -hex 32` / base64 secrets all fit).
const SAFE_VALUE = /^[A-Za-z0-9_.~+/=:-]+$/;
const PROJECT_REF = /^[a-z]{20}$/;

/** Checks the environment for a mode; every problem is listed at once, before anything runs. */
export function checkDeployEnv(args: DeployArgs, env: Env): DeployConfig {
  const problems: string[] = [];
  const missing: string[] = [];
  const projectRef = args.projectRef ?? env.SUPABASE_PROJECT_REF;
  if (!projectRef) missing.push("SUPABASE_PROJECT_REF (or --project-ref)");
  else if (!PROJECT_REF.test(projectRef)) problems.push(`project ref ${JSON.stringify(projectRef)} is not a Supabase project ref (20 lowercase letters)`);
  const required = {
    deploy: ["SUPABASE_ACCESS_TOKEN", "DATABASE_URL", "CRON_SECRET"],
    rotate: ["SUPABASE_ACCESS_TOKEN", "CRON_SECRET", "CRON_SECRET_PREVIOUS"],
    "finish-rotation": ["SUPABASE_ACCESS_TOKEN"],
  }[args.mode];
  for (const name of required) if (!env[name]) missing.push(name);
  let database: MigrationTarget | undefined;
  if (args.mode === "deploy" && env.DATABASE_URL) {
    const target = migrationTarget(env.DATABASE_URL, projectRef);
    if ("problem" in target) problems.push(target.problem);
    else database = target;
  }

  const checkSecret = (name: string, minLength: number) => {
    const value = env[name];
    if (!value) return;
    if (value.length < minLength) problems.push(`${name} is ${value.length} characters; it must be at least ${minLength} (e.g. openssl rand -hex 32)`);
    if (!SAFE_VALUE.test(value)) problems.push(`${name} may only contain A-Z a-z 0-9 _ . ~ + / = : -`);
  };
  if (args.mode !== "finish-rotation") {
    checkSecret("CRON_SECRET", MIN_CRON_SECRET_LENGTH);
    checkSecret("CRON_SECRET_PREVIOUS", MIN_CRON_SECRET_LENGTH);
    for (const name of PROVIDER_KEY_VARS) checkSecret(name, 1);
    checkSecret("DAYBREAK_METRICS_TOKEN", MIN_CRON_SECRET_LENGTH);
    checkSecret("DAYBREAK_METRICS_TOKEN_PREVIOUS", MIN_CRON_SECRET_LENGTH);
    if (env.DAYBREAK_EDGE_PLAN && !["free", "pro"].includes(env.DAYBREAK_EDGE_PLAN)) {
      problems.push(`DAYBREAK_EDGE_PLAN must be free or pro (the project's plan: 150 s or 400 s per worker), got ${JSON.stringify(env.DAYBREAK_EDGE_PLAN)}`);
    }
    if (env.DAYBREAK_DB_POOL_SIZE && !/^[1-9][0-9]?$/.test(env.DAYBREAK_DB_POOL_SIZE)) {
      problems.push(`DAYBREAK_DB_POOL_SIZE must be a whole number from 1 to 99, got ${JSON.stringify(env.DAYBREAK_DB_POOL_SIZE)}`);
    }
    if (env.CRON_SECRET && env.CRON_SECRET === env.CRON_SECRET_PREVIOUS) {
      problems.push("CRON_SECRET and CRON_SECRET_PREVIOUS are the same: a rotation needs a new secret");
    }
  }
  if (missing.length > 0) problems.unshift(`missing environment variables: ${missing.join(", ")}`);
  if (problems.length > 0) throw new ConfigError(`cannot ${args.mode === "deploy" ? "deploy" : "rotate the cron secret"}, nothing was run:\n  - ${problems.join("\n  - ")}`);

  return {
    mode: args.mode,
    projectRef: projectRef!,
    database,
    cronSecret: env.CRON_SECRET || undefined,
    cronSecretPrevious: env.CRON_SECRET_PREVIOUS || undefined,
    providerKeys: args.mode === "deploy" ? PROVIDER_KEY_VARS.filter((n) => env[n]).map((n) => [n, env[n]!] as [string, string]) : [],
    functionSettings: args.mode === "deploy" ? FUNCTION_SETTING_VARS.filter((n) => env[n]).map((n) => [n, env[n]!] as [string, string]) : [],
  };
}
