// How TypeScript tools reach the stack `scripts/dev` runs: its settings come from the process
// environment (scripts/dev passes them) or else from `.local/dev.env`, which scripts/dev writes.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const DEV_ENV_FILE = path.join(ROOT, ".local/dev.env");

export interface DevStack {
  databaseUrl: string;
  functionsUrl: string;
  supabaseUrl: string;
  cronSecret: string;
  serviceRoleKey: string;
  mockProviderUrl: string;
}

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

export function loadDevStack(env: Record<string, string | undefined> = process.env): DevStack {
  const file = existsSync(DEV_ENV_FILE) ? parseDevEnv(readFileSync(DEV_ENV_FILE, "utf8")) : {};
  const get = (name: string): string => {
    const value = env[name] || file[name];
    if (!value) throw new Error(`${name} is not set and not in ${DEV_ENV_FILE}: start the stack with scripts/dev`);
    return value;
  };
  return {
    databaseUrl: get("DATABASE_URL"),
    functionsUrl: get("FUNCTIONS_URL").replace(/\/+$/, ""),
    supabaseUrl: get("SUPABASE_URL"),
    cronSecret: get("CRON_SECRET"),
    serviceRoleKey: get("SUPABASE_SERVICE_ROLE_KEY"),
    mockProviderUrl: get("MOCK_PROVIDER_URL"),
  };
}

export interface CallOptions {
  /** Extra request headers (e.g. `x-manual-call`); the bearer and content type are always set. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** POSTs JSON to a function with the service-role bearer, as an operator's manual call would. */
export async function callFunction(
  stack: DevStack,
  name: string,
  body: unknown = {},
  { headers = {}, timeoutMs = 15_000 }: CallOptions = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${stack.functionsUrl}/${name}`, {
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${stack.serviceRoleKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body: parsed };
}
