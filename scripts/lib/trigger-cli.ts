// scripts/trigger: an operator's manual call to daily-batch-trigger (or batch-reconciler) through
// supabase-js, exactly as any client would make it. The call is labelled `x-manual-call: true`
// (a label only: it grants nothing, see docs/design/ARCHITECTURE.md) and authenticated with the service-role
// key, or the cron secret when that is all there is. Keys are never printed.
import { randomUUID } from "node:crypto";
import {
  CommandFailed,
  describeSource,
  EXIT,
  type FunctionsConfig,
  isMain,
  parseFlags,
  resolveFunctionsConfig,
  runCli,
  UsageError,
} from "./cli-env.ts";

export const USAGE = `usage: scripts/trigger [--force] [--schedule NAME] [--org ID] [--run-key YYYY-MM-DD] [--note TEXT] [--json]
       scripts/trigger --reconcile [--dry-run] [--json]

Calls daily-batch-trigger as a manual call (x-manual-call: true). One run per schedule and
period still holds: a second call answers "skipped: already_ran".
  --force           run now even outside the schedule's window (or while it is paused)
  --schedule NAME   the schedule to trigger (default: daily-batch)
  --org ID          one organization with a schedule of its own: run its current local
                    period now, or with --run-key backfill one of its past ones; implies --force
  --run-key KEY     backfill a missed past period (YYYY-MM-DD, or YYYY-Www for weekly
                    schedules; at most 30 days back); implies --force
  --note TEXT       who asks and why; recorded with the call and the run (<= 500 chars)
  --reconcile       call batch-reconciler instead (resume stale jobs, close finished runs)
  --dry-run         with --reconcile: report what it would do, change nothing
  --json            print the function's JSON answer as is (explanations go to stderr)

Config: SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or CRON_SECRET) from the environment;
without SUPABASE_URL in the environment, all of them from .local/dev.env (scripts/dev).
Exit: 0 started/skipped/completed, 1 the call failed, 2 usage or configuration error.`;

export const FUNCTIONS = Object.freeze({ trigger: "daily-batch-trigger", reconciler: "batch-reconciler" });

export interface TriggerInvocation {
  fn: string;
  body: Record<string, unknown>;
  json: boolean;
}

const RUN_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;
const WEEK_KEY = /^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isValidRunKey(key: string): boolean {
  if (WEEK_KEY.test(key)) return true;
  const m = key.match(RUN_KEY);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === key;
}

/** Turns argv into the function to call and its body; every mistake is a UsageError. */
export function parseTriggerArgs(argv: string[]): TriggerInvocation | "help" {
  const { values } = parseFlags(argv, {
    force: { type: "boolean" },
    schedule: { type: "string" },
    org: { type: "string" },
    "run-key": { type: "string" },
    note: { type: "string" },
    reconcile: { type: "boolean" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  const json = values.json === true;
  if (values.reconcile) {
    const misplaced = (["force", "schedule", "org", "run-key", "note"] as const).filter((k) => values[k] !== undefined);
    if (misplaced.length > 0) throw new UsageError(`--reconcile takes only --dry-run and --json, not ${misplaced.map((k) => `--${k}`).join(", ")}`);
    return { fn: FUNCTIONS.reconciler, body: values["dry-run"] ? { dry_run: true } : {}, json };
  }
  if (values["dry-run"]) throw new UsageError("--dry-run applies to --reconcile only (the trigger has no dry run: use the operator views)");
  const body: Record<string, unknown> = {};
  const runKey = values["run-key"];
  if (runKey !== undefined && !isValidRunKey(runKey)) {
    throw new UsageError(`--run-key ${JSON.stringify(runKey)} is not a date YYYY-MM-DD (or an ISO week YYYY-Www)`);
  }
  const org = values.org;
  if (org !== undefined && !UUID.test(org)) throw new UsageError(`--org ${JSON.stringify(org)} is not an organization id (a UUID)`);
  // A backfill, or one organization's run, is outside the window by definition: the server requires force.
  if (values.force || runKey !== undefined || org !== undefined) body.force = true;
  if (values.schedule !== undefined) {
    if (values.schedule === "") throw new UsageError("--schedule needs a schedule name");
    body.schedule = values.schedule;
  }
  if (org !== undefined) body.org_id = org.toLowerCase();
  if (runKey !== undefined) body.run_key = runKey;
  if (values.note !== undefined) body.note = values.note;
  return { fn: FUNCTIONS.trigger, body, json };
}

/** Headers of the manual call. The service-role key goes as a bearer token (set explicitly, so
 * it is sent whatever the key's format); the cron secret only when there is no service-role key. */
export function manualCallHeaders(config: FunctionsConfig, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { "x-manual-call": "true", "x-request-id": requestId };
  if (config.serviceRoleKey) headers.Authorization = `Bearer ${config.serviceRoleKey}`;
  else headers["x-cron-secret"] = config.cronSecret!;
  return headers;
}

type Answer = Record<string, unknown>;

/** One readable line per answer of the trigger or the reconciler. */
export function describeAnswer(fn: string, a: Answer): string {
  const period = `${a.schedule} ${a.run_key}${a.org_id ? ` of organization ${a.org_id}` : ""}`;
  if (fn === FUNCTIONS.reconciler && a.status === "completed") {
    const counts = `${a.stale} stale, ${a.resumed} resumed, ${a.finalized} finalized, ${a.failed} failed, ${a.runs_closed} runs closed`;
    if (a.dry_run !== true) return `reconciler completed: ${counts}`;
    const actions = Array.isArray(a.actions) ? a.actions : [];
    return [`reconciler dry run (nothing changed), would do: ${counts}`, ...actions.map((x) => `  ${JSON.stringify(x)}`)].join("\n");
  }
  const orgs = a.organizations as Record<string, number> | undefined;
  const orgLine = orgs
    ? `\norganizations: ${orgs.due} due, ${orgs.started} started (${orgs.catch_up} catch-up), ${orgs.missed} missed, ${orgs.already_ran} already ran`
    : "";
  return describeGlobal(fn, a, period) + orgLine;
}

function describeGlobal(fn: string, a: Answer, period: string): string {
  if (a.status === "started") {
    return `started run ${a.run_id} for ${period} (${a.trigger_source}): ${a.batch_jobs} batch jobs, ${a.tasks} tasks`;
  }
  if (a.status === "skipped") {
    switch (a.reason) {
      case "already_ran":
        return `skipped: already_ran — run ${a.existing_run_id ?? "(unknown)"} already exists for ${period}`;
      case "outside_window":
        return `skipped: outside_window — ${period} is outside the schedule's window; --force runs it now`;
      case "schedule_paused":
        return `skipped: schedule_paused — schedule ${a.schedule} is disabled (scheduler.schedules.enabled); --force runs it anyway`;
      default:
        return `skipped: ${a.reason} (${period})`;
    }
  }
  throw new CommandFailed(`unexpected answer from ${fn}: ${JSON.stringify(a)}`);
}

/** Explains an HTTP error answer; the operator should know what to fix from this alone. */
export function explainHttpError(fn: string, status: number, body: unknown, config: FunctionsConfig): string {
  const b = (typeof body === "object" && body !== null ? body : {}) as Answer;
  const credential = config.serviceRoleKey ? "SUPABASE_SERVICE_ROLE_KEY" : "CRON_SECRET";
  const where = describeSource(config.source);
  switch (status) {
    case 400: {
      const details = Array.isArray(b.details) ? (b.details as { path?: unknown; message?: unknown }[]) : [];
      const lines = details.map((d) => {
        const path = Array.isArray(d.path) && d.path.length > 0 ? `${d.path.join(".")}: ` : "";
        return `  - ${path}${String(d.message)}`;
      });
      return [`invalid request (400): ${fn} refused the request and changed nothing`, ...lines].join("\n");
    }
    case 401:
      return `unauthorized (401): the key was refused — check SUPABASE_SERVICE_ROLE_KEY / CRON_SECRET for this project ` +
        `(sent ${credential} from the ${where} to ${config.supabaseUrl})`;
    case 404:
      return `not found (404): no function ${fn} at ${config.supabaseUrl}/functions/v1/${fn} — is SUPABASE_URL right, and is it deployed (scripts/deploy)?`;
    case 405:
      return `method not allowed (405): ${fn} answers POST only`;
    case 413:
      return `payload too large (413): the body is over ${b.limit_bytes ?? "the"} bytes limit — shorten --note`;
    case 500:
      if (b.error === "misconfigured") {
        return `misconfigured (500): the function's CRON_SECRET is missing or shorter than 32 characters, so it refuses every call ` +
          `— set it on the function side (supabase secrets set, see scripts/deploy; locally scripts/dev sets it)`;
      }
      if (b.error === "internal") {
        return `internal error (500) in ${fn}, request id ${b.request_id ?? "(none)"} — look it up in the function logs ` +
          `and scheduler.scheduler_runs (request_id)`;
      }
      break;
  }
  return `HTTP ${status} from ${fn}: ${typeof body === "string" ? body.slice(0, 500) : JSON.stringify(body)}`;
}

const NODE_DEPRECATION_NOTICE = "Node.js 20 and below are deprecated";

/** supabase-js, loaded without its import-time Node 20 deprecation notice: the project targets
 * Node 20 (package.json engines) and the notice would otherwise open every operator's output. */
async function loadSupabase(): Promise<typeof import("@supabase/supabase-js")> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].includes(NODE_DEPRECATION_NOTICE)) return;
    warn(...args);
  };
  try {
    return await import("@supabase/supabase-js");
  } finally {
    console.warn = warn;
  }
}

/** Stands in for WebSocket, which Node 20 lacks and supabase-js's Realtime client insists on at
 * construction; this CLI never opens a realtime channel, so it is never constructed. */
class NoWebSocket {
  constructor() {
    throw new Error("scripts/trigger does not use Supabase Realtime");
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => "");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseTriggerArgs(argv);
  if (parsed === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const config = resolveFunctionsConfig();
  const { createClient, FunctionsFetchError, FunctionsHttpError, FunctionsRelayError } = await loadSupabase();
  // supabase-js needs a key; with only the cron secret it gets a placeholder, which the function
  // ignores: the x-cron-secret header authenticates (and the secret itself never becomes a bearer).
  const client = createClient(config.supabaseUrl, config.serviceRoleKey ?? "daybreak-cron-secret-auth", {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: NoWebSocket as never },
  });
  const requestId = randomUUID();
  const { data, error } = await client.functions.invoke(parsed.fn, {
    body: parsed.body,
    headers: manualCallHeaders(config, requestId),
    timeout: 120_000,
  });

  if (error) {
    if (error instanceof FunctionsHttpError) {
      const res = error.context as Response;
      const body = await readBody(res);
      if (parsed.json) process.stdout.write(`${JSON.stringify(body)}\n`);
      throw new CommandFailed(explainHttpError(parsed.fn, res.status, body, config));
    }
    if (error instanceof FunctionsRelayError) {
      throw new CommandFailed(`relay error from Supabase calling ${parsed.fn} (request id ${requestId}): ${error.message}`);
    }
    if (error instanceof FunctionsFetchError) {
      const cause = (error.context as { message?: string; cause?: { message?: string } } | undefined);
      const why = cause?.cause?.message ?? cause?.message ?? error.message;
      throw new CommandFailed(`could not reach ${config.supabaseUrl}/functions/v1/${parsed.fn}: ${why} — is the stack running and SUPABASE_URL right?`);
    }
    throw new CommandFailed(`calling ${parsed.fn} failed: ${(error as Error).message}`, EXIT.failed, { cause: error });
  }
  if (typeof data !== "object" || data === null) {
    throw new CommandFailed(`${parsed.fn} answered something that is not JSON: ${String(data).slice(0, 500)}`);
  }
  if (parsed.json) process.stdout.write(`${JSON.stringify(data)}\n`);
  const line = describeAnswer(parsed.fn, data as Answer);
  (parsed.json ? process.stderr : process.stdout).write(`${line}\n`);
  return EXIT.ok;
}

if (isMain(import.meta.url)) {
  await runCli("scripts/trigger", USAGE, () => main(process.argv.slice(2)));
}
