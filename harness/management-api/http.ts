// Request bodies as the CLI sends them (JSON, or multipart for a function upload) and JSON answers.
import type http from "node:http";

const MAX_BODY_BYTES = 20 * 1024 * 1024; // hosted refuses larger function uploads too

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function readRaw(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not JSON");
  }
}

export interface MultipartPart {
  name: string;
  /** Set for a file part: the name the client gave it. */
  filename?: string;
  text?: string;
  data?: Buffer;
}

/** Parses multipart/form-data with the platform's own parser (undici), keeping file names as sent. */
export async function parseMultipart(contentType: string, raw: Buffer): Promise<MultipartPart[]> {
  if (!contentType.startsWith("multipart/form-data")) throw new HttpError(400, `expected multipart/form-data, got ${contentType || "no content type"}`);
  const form = await new Request("http://stand-in/", { method: "POST", headers: { "content-type": contentType }, body: new Uint8Array(raw) }).formData();
  const parts: MultipartPart[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") parts.push({ name, text: value });
    else parts.push({ name, filename: value.name, data: Buffer.from(await value.arrayBuffer()) });
  }
  return parts;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}
