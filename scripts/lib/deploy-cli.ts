// scripts/deploy: puts daybreak on a Supabase project with the Supabase CLI from npm: set the
// functions' secrets, apply the migrations, deploy the five functions together (JWT verification
// off: each function authenticates itself), and store in Vault the functions URL and cron secret
// that the pg_cron jobs read. Also rotates CRON_SECRET without a refused cron call.
//
// Secrets never go on a command line (argv is world-readable in `ps`): they are written to 0600
// files in a private temp directory (`--env-file`, `--file`) that is removed afterwards, or given
// to one step's environment (the database password, as PGPASSWORD); every secret value is masked
// in anything printed, including the CLI's own output.
// Modules: deploy/config.ts (flags, environment), deploy/database-url.ts (where migrations go),
// deploy/plan.ts (the steps; pure), deploy/execute.ts (running them), deploy/secrets.ts (masking).
import { EXIT, isMain, runCli } from "./cli-env.ts";
import { checkDeployEnv, type Mode, parseDeployArgs } from "./deploy/config.ts";
import { executePlan, renderStep } from "./deploy/execute.ts";
import { buildPlan, secretValues } from "./deploy/plan.ts";
import { MASK, redact } from "./deploy/secrets.ts";

export const USAGE = `usage: scripts/deploy [--dry-run] [--project-ref REF]
       scripts/deploy --rotate-secret [--dry-run] [--project-ref REF]
       scripts/deploy --finish-rotation [--dry-run] [--project-ref REF]

Deploys daybreak to a Supabase project with the Supabase CLI (node_modules/.bin/supabase),
every step naming the project itself (--remote=REF; nothing is linked):
  1. supabase secrets set (CRON_SECRET, provider keys, function settings)   2. supabase db push (the migrations, to DATABASE_URL)
  3. supabase functions deploy (daily-batch-trigger, robust-batch-processor, batch-reconciler, health,
     daybreak-dashboard; together, --use-api, --no-verify-jwt)
  4. Vault: daybreak_functions_url, daybreak_cron_secret (supabase db query)
Every step is idempotent: after a failure, fix the cause and run it again.

  --dry-run           print every command, secret values masked (****); run nothing, no network
  --project-ref REF   the project (default: SUPABASE_PROJECT_REF)
  --rotate-secret     rotation, part 1: functions accept CRON_SECRET (new) and CRON_SECRET_PREVIOUS
                      (old); Vault switches the cron jobs to the new secret
  --finish-rotation   rotation, part 2 (one cron interval later): unset CRON_SECRET_PREVIOUS

Environment (checked before anything runs):
  deploy            SUPABASE_PROJECT_REF, SUPABASE_ACCESS_TOKEN, CRON_SECRET (>= 32 chars),
                    DATABASE_URL (the session pooler connection string, with the database password;
                    TLS is required unless it names an sslmode); optional CRON_SECRET_PREVIOUS,
                    provider keys OPENAI_API_KEY, PERPLEXITY_API_KEY, GROQ_API_KEY, and function
                    settings DAYBREAK_METRICS_TOKEN (>= 32 chars, the read-only token; and
                    DAYBREAK_METRICS_TOKEN_PREVIOUS during its rotation), DAYBREAK_EDGE_PLAN
                    (free | pro), DAYBREAK_DB_POOL_SIZE (each one set is deployed)
  --rotate-secret   SUPABASE_PROJECT_REF, SUPABASE_ACCESS_TOKEN, CRON_SECRET = the new secret,
                    CRON_SECRET_PREVIOUS = the old one
  --finish-rotation SUPABASE_PROJECT_REF, SUPABASE_ACCESS_TOKEN
Exit: 0 done, 1 a step failed, 2 usage or missing/invalid environment.`;

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
