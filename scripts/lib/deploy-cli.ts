// scripts/deploy: puts daybreak on a Supabase project with the Supabase CLI from npm: link, apply
// the migrations, set the functions' secrets, deploy the four functions (JWT verification off:
// each function authenticates itself), and store in Vault the functions URL and cron secret
// that the pg_cron jobs read. Also rotates CRON_SECRET without a refused cron call.
//
// Secrets never go on a command line (argv is world-readable in `ps`): they are written to 0600
// files in a private temp directory (`--env-file`, `--file`) that is removed afterwards, and
// every secret value is masked in anything printed, including the CLI's own output.
// Command construction is pure (buildPlan and friends) so tests check it without a network.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, CommandFailed, type Env, EXIT, isMain, parseFlags, runCli, UsageError } from "./cli-env.ts";
import { ROOT } from "./dev-stack.ts";

export const USAGE = `usage: scripts/deploy [--dry-run] [--project-ref REF]
       scripts/deploy --rotate-secret [--dry-run] [--project-ref REF]
       scripts/deploy --finish-rotation [--dry-run] [--project-ref REF]

Deploys daybreak to a Supabase project with the Supabase CLI (node_modules/.bin/supabase):
  1. supabase link            2. supabase db push (migrations)     3. supabase secrets set
  4. supabase functions deploy (daily-batch-trigger, robust-batch-processor, batch-reconciler,
     health, daybreak-dashboard; --no-verify-jwt)  5. Vault: daybreak_functions_url, daybreak_cron_secret (supabase db query)
Every step is idempotent: after a failure, fix the cause and run it again.

  --dry-run           print every command, secret values masked (****); run nothing, no network
  --project-ref REF   the project (default: SUPABASE_PROJECT_REF)
  --rotate-secret     rotation, part 1: functions accept CRON_SECRET (new) and CRON_SECRET_PREVIOUS
                      (old); Vault switches the cron jobs to the new secret
  --finish-rotation   rotation, part 2 (one cron interval later): unset CRON_SECRET_PREVIOUS

Environment (checked before anything runs):
  deploy            SUPABASE_PROJECT_REF, SUPABASE_ACCESS_TOKEN, SUPABASE_DB_PASSWORD, CRON_SECRET
                    (>= 32 chars); optional CRON_SECRET_PREVIOUS and provider keys
                    OPENAI_API_KEY, PERPLEXITY_API_KEY, GROQ_API_KEY (each one set is deployed)
  --rotate-secret   the same, with CRON_SECRET = the new secret, CRON_SECRET_PREVIOUS = the old one
  --finish-rotation SUPABASE_PROJECT_REF, SUPABASE_ACCESS_TOKEN
Exit: 0 done, 1 a step failed, 2 usage or missing/invalid environment.`;

export const DEPLOYED_FUNCTIONS = Object.freeze(["daily-batch-trigger", "robust-batch-processor", "batch-reconciler", "health", "daybreak-dashboard"]);
export const PROVIDER_KEY_VARS = Object.freeze(["OPENAI_API_KEY", "PERPLEXITY_API_KEY", "GROQ_API_KEY"]);
export const VAULT_NAMES = Object.freeze({ functionsUrl: "daybreak_functions_url", cronSecret: "daybreak_cron_secret" });
export const MIN_CRON_SECRET_LENGTH = 32;
export const MASK = "****";
/** The longest cron interval (the trigger runs every 5 minutes, the reconciler every minute) plus pg_net's send delay. */
export const ROTATION_WAIT_MINUTES = 6;
/** Replaced by the step's temp file path when the step runs. */
export const FILE_ARG = "{file}";

export type Mode = "deploy" | "rotate" | "finish-rotation";

/** A secret inside generated text: printed as ****, written as its value. */
export interface SecretPart {
  secret: string;
}
export type Part = string | SecretPart;

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

export interface DeployConfig {
  mode: Mode;
  projectRef: string;
  cronSecret?: string;
  cronSecretPrevious?: string;
  /** Provider keys to set on the functions, name → value, in PROVIDER_KEY_VARS order. */
  providerKeys: [string, string][];
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
  const required = args.mode === "finish-rotation"
    ? ["SUPABASE_ACCESS_TOKEN"]
    : ["SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD", "CRON_SECRET", ...(args.mode === "rotate" ? ["CRON_SECRET_PREVIOUS"] : [])];
  for (const name of required) if (!env[name]) missing.push(name);

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
    if (env.CRON_SECRET && env.CRON_SECRET === env.CRON_SECRET_PREVIOUS) {
      problems.push("CRON_SECRET and CRON_SECRET_PREVIOUS are the same: a rotation needs a new secret");
    }
  }
  if (missing.length > 0) problems.unshift(`missing environment variables: ${missing.join(", ")}`);
  if (problems.length > 0) throw new ConfigError(`cannot ${args.mode === "deploy" ? "deploy" : "rotate the cron secret"}, nothing was run:\n  - ${problems.join("\n  - ")}`);

  return {
    mode: args.mode,
    projectRef: projectRef!,
    cronSecret: env.CRON_SECRET || undefined,
    cronSecretPrevious: env.CRON_SECRET_PREVIOUS || undefined,
    providerKeys: args.mode === "deploy" ? PROVIDER_KEY_VARS.filter((n) => env[n]).map((n) => [n, env[n]!] as [string, string]) : [],
  };
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

export function maskParts(parts: Part[]): string {
  return parts.map((p) => (typeof p === "string" ? p : MASK)).join("");
}

export function unmaskParts(parts: Part[]): string {
  return parts.map((p) => (typeof p === "string" ? p : p.secret)).join("");
}

const shellQuote = (arg: string): string => (/^[A-Za-z0-9_./:=@%+,{}-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** How a step is shown: its command line and, for a file, the file's text with secrets masked. */
export function renderStep(step: Step, index: number, total: number, filePath: string): string {
  const args = step.args.map((a) => (a === FILE_ARG ? filePath : shellQuote(a)));
  const lines = [`[${index}/${total}] ${step.title}`, `  $ supabase ${args.join(" ")}`];
  if (step.file) {
    lines.push(`    ${filePath} (mode 0600, removed afterwards):`);
    for (const l of maskParts(step.file.parts).trimEnd().split("\n")) lines.push(`      ${l}`);
  }
  return lines.join("\n");
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

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  return out;
}

/** Copies a child's output line by line with every secret masked (whole lines, so a secret split
 * across two chunks is still found). */
function pipeRedacted(from: NodeJS.ReadableStream, to: NodeJS.WriteStream, secrets: string[]): Promise<void> {
  return new Promise((resolve) => {
    let pending = "";
    from.setEncoding("utf8");
    from.on("data", (chunk: string) => {
      pending += chunk;
      const end = pending.lastIndexOf("\n");
      if (end === -1) return;
      to.write(redact(pending.slice(0, end + 1), secrets));
      pending = pending.slice(end + 1);
    });
    from.on("end", () => {
      if (pending) to.write(redact(pending, secrets));
      resolve();
    });
  });
}

async function runStep(bin: string, args: string[], secrets: string[]): Promise<number> {
  const child = spawn(bin, args, { cwd: ROOT, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  const copied = Promise.all([pipeRedacted(child.stdout, process.stdout, secrets), pipeRedacted(child.stderr, process.stderr, secrets)]);
  const code = await new Promise<number>((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`cannot run ${bin}: ${error.message}\n`);
      resolve(127);
    });
    child.once("close", (status, signal) => resolve(status ?? (signal ? 128 : 1)));
  });
  await copied;
  return code;
}

/** The Supabase CLI to run; DAYBREAK_SUPABASE_BIN overrides it (tests use a recording fake). */
export function supabaseBin(env: Env): string {
  return env.DAYBREAK_SUPABASE_BIN || path.join(ROOT, "node_modules/.bin/supabase");
}

async function executePlan(plan: Plan, env: Env): Promise<void> {
  const secrets = secretValues(plan, env);
  const bin = supabaseBin(env);
  const dir = mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-"));
  chmodSync(dir, 0o700);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (const [i, step] of plan.steps.entries()) {
      const filePath = step.file ? path.join(dir, step.file.name) : "";
      if (step.file) writeFileSync(filePath, unmaskParts(step.file.parts), { mode: 0o600 });
      process.stdout.write(`${renderStep(step, i + 1, plan.steps.length, filePath)}\n`);
      const code = await runStep(bin, step.args.map((a) => (a === FILE_ARG ? filePath : a)), secrets);
      if (step.file) rmSync(filePath, { force: true });
      if (code !== 0) {
        throw new CommandFailed(
          `step ${i + 1}/${plan.steps.length} failed (supabase exited with ${code}): ${step.title}\n` +
            `Steps before it are done; every step is idempotent: fix the cause and run the same command again.`,
        );
      }
    }
  } finally {
    cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

const HEADINGS: Record<Mode, string> = {
  deploy: "deploy daybreak to",
  rotate: "rotate the cron secret (part 1 of 2) of",
  "finish-rotation": "finish the cron secret rotation (part 2 of 2) of",
};

async function main(argv: string[]): Promise<number> {
  const args = parseDeployArgs(argv);
  if (args === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const config = checkDeployEnv(args, process.env);
  const plan = buildPlan(config);
  if (args.dryRun) {
    const lines = [`dry run: ${HEADINGS[plan.mode]} project ${plan.projectRef}; nothing is run, secret values are shown as ${MASK}`];
    plan.steps.forEach((s, i) => lines.push(renderStep(s, i + 1, plan.steps.length, `$TMPDIR/daybreak-deploy-XXXXXX/${s.file?.name ?? ""}`)));
    lines.push("then:", ...plan.next.map((l) => `  ${l}`));
    process.stdout.write(`${redact(lines.join("\n"), secretValues(plan, process.env))}\n`);
    return EXIT.ok;
  }
  process.stdout.write(`${HEADINGS[plan.mode]} project ${plan.projectRef}\n`);
  await executePlan(plan, process.env);
  process.stdout.write(`${plan.next.join("\n")}\n`);
  return EXIT.ok;
}

if (isMain(import.meta.url)) {
  await runCli("scripts/deploy", USAGE, () => main(process.argv.slice(2)));
}
