// Configuration and error handling shared by the operator CLIs (scripts/trigger, status, deploy).
// Settings come from the process environment or else from `.local/dev.env`, which scripts/dev
// writes. Config is taken from ONE source, never mixed: a dev key must never be sent to a URL
// from the environment, nor a production key to the dev stack.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ROOT } from "./root.ts";

export type Env = Record<string, string | undefined>;

/** Exit codes shared by the CLIs: 1 = the operation failed or found problems, 2 = usage/config. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/** A mistake in how the command was called or configured: exit 2, with the usage text. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Missing or unusable configuration (env, .local/dev.env, an unreachable database): exit 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The operation ran and failed (an HTTP error, a failed step): exit 1, message already clear. */
export class CommandFailed extends Error {
  override name = "CommandFailed";
  constructor(message: string, readonly exitCode: number = EXIT.failed, options?: ErrorOptions) {
    super(message, options);
  }
}

/** What scripts/dev writes for the tools: how to reach the stack it runs (dev values only). */
export const DEV_ENV_FILE = path.join(ROOT, ".local/dev.env");

/** Parses the `KEY='value'` lines scripts/dev writes (an optional `export ` prefix is allowed). */
export function parseDevEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.length >= 2 && (value[0] === "'" || value[0] === '"') && value.endsWith(value[0]!)) {
      value = value.slice(1, -1);
    }
    vars[m[1]!] = value;
  }
  return vars;
}

/** Where `.local/dev.env` is; DAYBREAK_DEV_ENV_FILE points elsewhere (tests, a second stack). */
export function devEnvFile(env: Env = process.env): string {
  return env.DAYBREAK_DEV_ENV_FILE || DEV_ENV_FILE;
}

export function readDevEnv(file: string): Env | null {
  return existsSync(file) ? parseDevEnv(readFileSync(file, "utf8")) : null;
}

const nonEmpty = (value: string | undefined): string | undefined => (value ? value : undefined);

export interface FunctionsConfig {
  supabaseUrl: string;
  serviceRoleKey?: string;
  cronSecret?: string;
  /** "environment" or the dev.env path: named in errors so the operator knows what to fix. */
  source: string;
}

/** SUPABASE_URL + (SUPABASE_SERVICE_ROLE_KEY or CRON_SECRET): all from the environment when it
 * sets SUPABASE_URL, else all from .local/dev.env. */
export function resolveFunctionsConfig(env: Env = process.env): FunctionsConfig {
  const fromEnv = {
    supabaseUrl: nonEmpty(env.SUPABASE_URL),
    serviceRoleKey: nonEmpty(env.SUPABASE_SERVICE_ROLE_KEY),
    cronSecret: nonEmpty(env.CRON_SECRET),
  };
  if (fromEnv.supabaseUrl) return complete(fromEnv, "environment");
  if (fromEnv.serviceRoleKey) {
    throw new ConfigError(
      "SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL is not: set both (or neither, to use the dev stack's .local/dev.env)",
    );
  }
  const file = devEnvFile(env);
  const vars = readDevEnv(file);
  if (!vars) {
    throw new ConfigError(
      `no configuration: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or CRON_SECRET) in the environment, ` +
        `or start the local stack with scripts/dev (it writes ${file})`,
    );
  }
  return complete({
    supabaseUrl: nonEmpty(vars.SUPABASE_URL),
    serviceRoleKey: nonEmpty(vars.SUPABASE_SERVICE_ROLE_KEY),
    cronSecret: nonEmpty(vars.CRON_SECRET),
  }, file);
}

function complete(c: { supabaseUrl?: string; serviceRoleKey?: string; cronSecret?: string }, source: string): FunctionsConfig {
  const missing = [
    ...(c.supabaseUrl ? [] : ["SUPABASE_URL"]),
    ...(c.serviceRoleKey || c.cronSecret ? [] : ["SUPABASE_SERVICE_ROLE_KEY (or CRON_SECRET)"]),
  ];
  if (missing.length > 0) throw new ConfigError(`missing in the ${describeSource(source)}: ${missing.join(", ")}`);
  try {
    const url = new URL(c.supabaseUrl!);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`protocol ${url.protocol}`);
  } catch (cause) {
    throw new ConfigError(`SUPABASE_URL in the ${describeSource(source)} is not an http(s) URL`, { cause });
  }
  return { supabaseUrl: c.supabaseUrl!.replace(/\/+$/, ""), serviceRoleKey: c.serviceRoleKey, cronSecret: c.cronSecret, source };
}

export function describeSource(source: string): string {
  return source === "environment" ? "environment" : `dev stack settings (${source})`;
}

/** DATABASE_URL from the environment, else from .local/dev.env. */
export function resolveDatabaseUrl(env: Env = process.env): { url: string; source: string } {
  const fromEnv = nonEmpty(env.DATABASE_URL);
  if (fromEnv) return { url: fromEnv, source: "environment" };
  const file = devEnvFile(env);
  const fromFile = nonEmpty(readDevEnv(file)?.DATABASE_URL);
  if (fromFile) return { url: fromFile, source: file };
  throw new ConfigError(`DATABASE_URL is not set and not in ${file}: set it, or start the local stack with scripts/dev`);
}

/** A connection string safe to print: the password replaced by ****. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return "<unparseable DATABASE_URL>";
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colourEnabled(stream: NodeJS.WriteStream, env: Env = process.env): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined;
}

/** node:util parseArgs, strict, with its errors turned into UsageError. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** Whether the module at `moduleUrl` is the program node/tsx was started with (not an import). */
export function isMain(moduleUrl: string): boolean {
  const started = process.argv[1];
  if (!started) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(path.resolve(started));
  } catch {
    return false;
  }
}

/** Runs a CLI's main: maps its errors to a message on stderr and an exit code. */
export async function runCli(program: string, usage: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${program}: ${error.message}\n\n${usage}\n`);
      code = EXIT.usage;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`${program}: ${error.message}\n`);
      code = EXIT.usage;
    } else if (error instanceof CommandFailed) {
      process.stderr.write(`${program}: ${error.message}\n`);
      code = error.exitCode;
    } else {
      process.stderr.write(`${program}: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
      code = EXIT.failed;
    }
  }
  // Let stdout drain before exiting (a pipe may still hold the report).
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}
