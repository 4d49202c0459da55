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
