// A call to an edge function as pg_cron or an operator makes it, with the test credentials, timed
// from this (local) client: the bench and the soak measure with it.
import { TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "./processes.ts";

export interface TimedResponse {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

export type Caller = "manual" | "cron";

/** POSTs JSON the way an operator (service-role bearer, x-manual-call) or pg_cron (x-cron-secret) does. */
export async function timedCall(
  functionsUrl: string,
  name: string,
  body: unknown,
  caller: Caller,
  requestId?: string,
): Promise<TimedResponse> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (caller === "manual") {
    headers.authorization = `Bearer ${TEST_SERVICE_ROLE_KEY}`;
    headers["x-manual-call"] = "true";
  } else {
    headers["x-cron-secret"] = TEST_CRON_SECRET;
    headers["x-trigger-source"] = "cron";
  }
  if (requestId) headers["x-request-id"] = requestId;
  const started = performance.now();
  const res = await fetch(`${functionsUrl}/${name}`, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  const ms = performance.now() - started;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${name} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: parsed, ms };
}

export function expectStatus(what: string, res: TimedResponse, field: string, value: string): void {
  if (res.status !== 200 || res.body[field] !== value) {
    throw new Error(`${what}: expected 200 with ${field}=${value}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
}
