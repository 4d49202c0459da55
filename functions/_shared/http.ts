// JSON responses and request-body reading shared by every edge function.

/** Every JSON answer: the type stated, and browsers told not to guess another (nosniff). */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "x-content-type-options": "nosniff", ...headers },
  });
}

export class HttpError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>) {
    super(String(body.error ?? status));
    this.name = "HttpError";
  }
}

/** Reads a JSON object body of at most maxBytes; an empty body is `{}`. */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, { error: "payload_too_large", limit_bytes: maxBytes });
  }
  const bytes = await readLimited(req, maxBytes);
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new HttpError(400, {
      error: "invalid_request",
      details: [{ path: [], message: `malformed JSON: ${(cause as Error).message}` }],
    });
  }
}

async function readLimited(req: Request, maxBytes: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, { error: "payload_too_large", limit_bytes: maxBytes });
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export function newRequestId(): string {
  return crypto.randomUUID();
}
