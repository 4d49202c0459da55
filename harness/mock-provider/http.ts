// Small node:http helpers for the mock's routes.
import type http from "node:http";

const MAX_BODY_BYTES = 1024 * 1024;

export function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

/** Like sendJson, but the headers go at once and the body trickles out in ten pieces over overMs:
 * a provider that streams a slow body (the client's timeout has to cover reading it too). */
export function sendJsonSlowly(
  res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string>, overMs: number,
  later: (ms: number, fn: () => void) => void,
): void {
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(text.byteLength), ...headers });
  const pieces = 10;
  const size = Math.ceil(text.byteLength / pieces);
  for (let i = 0; i < pieces; i++) {
    later(Math.round(((i + 1) * overMs) / pieces), () => {
      if (res.destroyed) return;
      const piece = text.subarray(i * size, (i + 1) * size);
      if (i === pieces - 1) res.end(piece);
      else res.write(piece);
    });
  }
}

export function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}
