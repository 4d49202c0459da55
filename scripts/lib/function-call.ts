// A plain JSON POST to one of the edge functions with the service-role bearer (else the cron
// secret), as an operator's manual call would make it. The dev demo uses it; scripts/trigger goes
// through supabase-js.
import type { FunctionsConfig } from "./cli-env.ts";

export interface CallOptions {
  /** Extra request headers (e.g. `x-manual-call`); the credential and content type are always set. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function callFunction(
  config: FunctionsConfig,
  name: string,
  body: unknown = {},
  { headers = {}, timeoutMs = 15_000 }: CallOptions = {},
): Promise<{ status: number; body: unknown }> {
  const credential: Record<string, string> = config.serviceRoleKey
    ? { authorization: `Bearer ${config.serviceRoleKey}` }
    : { "x-cron-secret": config.cronSecret! };
  const res = await fetch(`${functionsUrl(config)}/${name}`, {
    method: "POST",
    headers: { ...headers, ...credential, "content-type": "application/json" },
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

export function functionsUrl(config: FunctionsConfig): string {
  return `${config.supabaseUrl}/functions/v1`;
}
