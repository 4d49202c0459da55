// The request log: every request with its answer status, bodies as JSON (a function upload as its
// file names, sizes and metadata) and every secret value the stand-in knows replaced by ****.
import type { CapturedDeploy, RecordedRequest } from "./types.ts";

export const MASK = "****";

export class RequestLog {
  readonly entries: RecordedRequest[] = [];
  private readonly secrets = new Set<string>();

  constructor(private readonly onEntry?: (entry: RecordedRequest) => void) {}

  /** Values masked from now on wherever they appear in a logged body. */
  addSecret(value: string): void {
    if (value.length >= 4) this.secrets.add(value);
  }

  mask(text: string): string {
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    return out;
  }

  record(method: string, url: URL, status: number, body: unknown): void {
    const entry: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status,
      body: body === undefined ? undefined : JSON.parse(this.mask(JSON.stringify(body))),
    };
    this.entries.push(entry);
    this.onEntry?.(entry);
  }
}

/** How an upload appears in the log: no file contents, only what was sent. */
export function uploadSummary(deploy: CapturedDeploy): unknown {
  return {
    files: [...deploy.files].map(([name, data]) => ({ name, bytes: data.byteLength })),
    metadata: { entrypoint_path: deploy.entrypointPath, import_map_path: deploy.importMapPath, verify_jwt: deploy.verifyJwt },
  };
}
