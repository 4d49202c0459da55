// Who may call a daybreak function: the cron secret (current or, during rotation, previous) in
// `x-cron-secret`, or the service-role key as a bearer token. Nothing else grants anything:
// `x-manual-call` only labels a call (it once skipped the secret check; see docs/design/ARCHITECTURE.md).
import { readEnv } from "./env.ts";

export const MIN_CRON_SECRET_LENGTH = 32;

export type AuthMethod = "cron_secret" | "cron_secret_previous" | "service_role" | "metrics_token" | "metrics_token_previous";
export type AuthResult =
  | { ok: true; method: AuthMethod }
  | { ok: false; status: 401; error: "unauthorized" }
  | { ok: false; status: 500; error: "misconfigured" };

export type EnvReader = (name: string) => string | undefined;

export function authenticate(headers: Headers, env: EnvReader = readEnv): AuthResult {
  const cronSecret = env("CRON_SECRET");
  // Fail closed: a short or missing secret would make a guessable credential.
  if (!cronSecret || cronSecret.length < MIN_CRON_SECRET_LENGTH) {
    return { ok: false, status: 500, error: "misconfigured" };
  }
  const presented = headers.get("x-cron-secret");
  if (presented !== null) {
    if (timingSafeEqual(presented, cronSecret)) return { ok: true, method: "cron_secret" };
    const previous = env("CRON_SECRET_PREVIOUS");
    if (previous && previous.length >= MIN_CRON_SECRET_LENGTH && timingSafeEqual(presented, previous)) {
      return { ok: true, method: "cron_secret_previous" };
    }
  }
  const serviceRoleKey = env("SUPABASE_SERVICE_ROLE_KEY");
  const authorization = headers.get("authorization");
  if (serviceRoleKey && authorization && /^bearer /i.test(authorization)) {
    if (timingSafeEqual(authorization.slice(7).trim(), serviceRoleKey)) return { ok: true, method: "service_role" };
  }
  return { ok: false, status: 401, error: "unauthorized" };
}

/**
 * The read-only credential: `Authorization: Bearer <DAYBREAK_METRICS_TOKEN>` (or the previous token
 * while a rotation is under way). Only the dashboard's reads accept it; `authenticate` never does,
 * so a token on the Prometheus host cannot start a run, backfill, or reconcile. An unset or short
 * token is simply not accepted (the other credentials still are).
 */
export function authenticateReader(headers: Headers, env: EnvReader = readEnv): AuthResult {
  const bearer = /^bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  if (bearer) {
    const current = env("DAYBREAK_METRICS_TOKEN");
    if (current && current.length >= MIN_CRON_SECRET_LENGTH && timingSafeEqual(bearer, current)) return { ok: true, method: "metrics_token" };
    const previous = env("DAYBREAK_METRICS_TOKEN_PREVIOUS");
    if (previous && previous.length >= MIN_CRON_SECRET_LENGTH && timingSafeEqual(bearer, previous)) {
      return { ok: true, method: "metrics_token_previous" };
    }
  }
  return { ok: false, status: 401, error: "unauthorized" };
}

/** Compares in time that depends only on the expected value's length, never on where they differ. */
export function timingSafeEqual(presented: string, expected: string): boolean {
  const a = new TextEncoder().encode(presented);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return diff === 0;
}
