// The front door every daybreak function shares: POST only, authenticated, a bounded JSON body
// validated by a strict zod schema. Failures answer 4xx/5xx JSON before anything is written.
import type { z } from "zod";
import { authenticate, type AuthMethod, type EnvReader } from "./auth.ts";
import { HttpError, json, newRequestId, readJsonBody } from "./http.ts";
import { zodDetails } from "./trigger-request.ts";

export interface AcceptedRequest<T> {
  authMethod: AuthMethod;
  body: T;
}

export async function acceptRequest<S extends z.ZodType>(
  req: Request,
  schema: S,
  env: EnvReader,
  maxBytes: number,
): Promise<AcceptedRequest<z.infer<S>> | Response> {
  if (req.method !== "POST") return json(405, { error: "method_not_allowed", allowed: ["POST"] }, { allow: "POST" });
  const auth = authenticate(req.headers, env);
  if (!auth.ok) return json(auth.status, { error: auth.error });
  let raw: unknown;
  try {
    raw = await readJsonBody(req, maxBytes);
  } catch (error) {
    if (error instanceof HttpError) return json(error.status, error.body);
    throw error;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return json(400, { error: "invalid_request", details: zodDetails(parsed.error) });
  return { authMethod: auth.method, body: parsed.data };
}

/** Wraps a handler so an unexpected error still answers JSON with a request id to look up. */
export async function answerInternalErrors(name: string, req: Request, handler: () => Promise<Response>): Promise<Response> {
  try {
    return await handler();
  } catch (error) {
    const requestId = req.headers.get("x-request-id") ?? newRequestId();
    console.error(`${name} ${requestId} failed: ${(error as Error).message}`);
    return json(500, { error: "internal", request_id: requestId });
  }
}

/** Supabase's edge runtime lets a function keep working after it answered; other runtimes lack it. */
interface BackgroundRuntime {
  waitUntil(promise: Promise<unknown>): void;
}

/** `EdgeRuntime` exists only in Supabase's edge runtime (and scripts/serve-functions.ts's emulation of it). */
export function backgroundRuntime(): BackgroundRuntime | undefined {
  const runtime = (globalThis as { EdgeRuntime?: Partial<BackgroundRuntime> }).EdgeRuntime;
  return typeof runtime?.waitUntil === "function" ? (runtime as BackgroundRuntime) : undefined;
}

/** RFC 7240: `Prefer: respond-async` asks for 202 now and the work afterwards. */
export function prefersRespondAsync(headers: Headers): boolean {
  return (headers.get("prefer") ?? "").split(/[,;]/).some((p) => p.trim().toLowerCase() === "respond-async");
}

export interface AsyncEntry<S extends z.ZodType> {
  name: string;
  schema: S;
  env: EnvReader;
  maxBytes: number;
}

/**
 * The entry point of a function that SQL starts through pg_net. pg_net's worker sends a batch of
 * requests and takes no new ones until every request of the batch has finished, so daybreak's
 * calls (scheduler.queue_function_call) carry `Prefer: respond-async`: when the runtime can work
 * in the background (EdgeRuntime.waitUntil), the request is checked as usual (method, auth,
 * body: the same 4xx answers), answered 202 `{"accepted":true,"function","request_id"}` with
 * `Preference-Applied: respond-async`, and handled after the answer; the outcome is in daybreak's
 * tables (scheduler_runs), and a background failure is logged. Without the header, or without
 * EdgeRuntime, the call is answered synchronously with the full JSON report, as before.
 */
export async function answerAsyncWhenAsked<S extends z.ZodType>(
  req: Request,
  entry: AsyncEntry<S>,
  handler: (req: Request) => Promise<Response>,
): Promise<Response> {
  const runtime = backgroundRuntime();
  if (!runtime || !prefersRespondAsync(req.headers)) return handler(req);
  const checked = await acceptRequest(req.clone(), entry.schema, entry.env, entry.maxBytes);
  if (checked instanceof Response) return checked;
  const headers = new Headers(req.headers);
  const requestId = headers.get("x-request-id") ?? newRequestId();
  headers.set("x-request-id", requestId);
  const work = handler(new Request(req, { headers })).then(
    async (res) => {
      if (res.status >= 400) {
        console.error(`${entry.name} ${requestId} (after 202) answered ${res.status}: ${await res.text()}`);
      } else {
        await res.body?.cancel();
      }
    },
    (error) => console.error(`${entry.name} ${requestId} (after 202) failed: ${(error as Error).message}`),
  );
  runtime.waitUntil(work);
  return json(202, { accepted: true, function: entry.name, request_id: requestId }, { "preference-applied": "respond-async" });
}
