// A local stand-in for the Supabase Management API (api.supabase.com), for the real Supabase CLI:
// the routes `scripts/deploy` drives it through (function uploads, function secrets, SQL through
// `database/query`), answered as hosted answers them and stricter where hosted is strict (a
// bearer access token on every request, one known project ref, uploads that must name their
// entrypoint and import map among their files). It keeps each upload byte for byte, the secrets
// in memory, and a log of every request with secret values masked. Point the CLI at it with a
// profile (profile.ts); used in-process by tests, or as a process (cli.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { QueryRunner } from "./database.ts";
import { FunctionStore } from "./functions.ts";
import { HttpError, parseJson, parseMultipart, readRaw, sendJson } from "./http.ts";
import { RequestLog, uploadSummary } from "./log.ts";
import { SecretStore } from "./secrets.ts";
import type { ManagementApi, RecordedRequest, Refusal } from "./types.ts";

export type { CapturedDeploy, FunctionRecord, ManagementApi, RecordedRequest, Refusal } from "./types.ts";

export interface ManagementApiOptions {
  /** The one access token accepted (`Authorization: Bearer ...`). */
  accessToken: string;
  /** The one project that exists. */
  projectRef: string;
  /** Where `database/query` runs its SQL. */
  databaseUrl: string;
  port?: number;
  /** Called with each log entry as it is recorded (already masked). */
  onRequest?: (entry: RecordedRequest) => void;
}

export const READY_PREFIX = "management api stand-in listening on";

export async function startManagementApi(options: ManagementApiOptions): Promise<ManagementApi> {
  const functions = new FunctionStore();
  const secrets = new SecretStore();
  const database = new QueryRunner(options.databaseUrl);
  const log = new RequestLog(options.onRequest);
  log.addSecret(options.accessToken);
  const refusals: Refusal[] = [];
  const ref = options.projectRef;
  const project = `/v1/projects/${ref}`;

  function takeRefusal(method: string, url: URL): Refusal | undefined {
    const i = refusals.findIndex((r) => r.method === method && r.path.test(url.pathname) && (r.slug === undefined || r.slug === url.searchParams.get("slug")));
    return i === -1 ? undefined : refusals.splice(i, 1)[0];
  }

  /** Answers one request: [status, body to answer, body to log]. */
  async function route(req: http.IncomingMessage, url: URL, raw: Buffer): Promise<[number, unknown, unknown]> {
    const method = req.method ?? "GET";
    const p = url.pathname;
    const json = () => parseJson(raw);
    if (req.headers.authorization !== `Bearer ${options.accessToken}`) throw new HttpError(401, "Unauthorized");
    if (/^\/v1\/projects\/[^/]+/.test(p) && !p.startsWith(`${project}/`) && p !== project) throw new HttpError(404, "Project not found");

    if (method === "GET" && p === project) {
      return [200, {
        id: ref, ref, organization_id: "stand-in-org", organization_slug: "stand-in-org", name: `stand-in ${ref}`,
        region: "local", created_at: "2026-01-01T00:00:00Z", status: "ACTIVE_HEALTHY",
        database: { host: `db.${ref}.supabase.co`, version: "15.8.1.000", postgres_engine: "15", release_channel: "ga" },
      }, undefined];
    }
    if (method === "POST" && p === `${project}/functions/deploy`) {
      const record = functions.deploy(url.searchParams.get("slug"), url.searchParams.get("bundleOnly") === "true",
        await parseMultipart(req.headers["content-type"] ?? "", raw));
      return [201, record, uploadSummary(functions.deploys.at(-1)!)];
    }
    if (p === `${project}/functions`) {
      if (method === "GET") return [200, [...functions.live.values()], undefined];
      if (method === "PUT") {
        const body = json();
        return [200, { functions: functions.bulkUpdate(body) }, body];
      }
    }
    const one = p.match(new RegExp(`^${project}/functions/([^/]+)$`));
    if (one) {
      const record = functions.live.get(one[1]!);
      if (method === "GET") return record ? [200, record, undefined] : [404, { message: "Function not found" }, undefined];
      if (method === "DELETE") return functions.remove(one[1]!) ? [200, {}, undefined] : [404, { message: "Function not found" }, undefined];
    }
    if (p === `${project}/secrets`) {
      if (method === "GET") return [200, secrets.list(), undefined];
      const body = json();
      if (method === "POST") {
        // Masked in the log from now on: this request's values included.
        if (Array.isArray(body)) for (const s of body) if (typeof s?.value === "string") log.addSecret(s.value);
        secrets.set(body);
        return [201, {}, body];
      }
      if (method === "DELETE") {
        secrets.unset(body);
        return [200, {}, body];
      }
    }
    if (method === "POST" && p === `${project}/database/query`) {
      const body = json();
      return [201, await database.run(body), body];
    }
    throw new HttpError(404, `the stand-in has no route for ${method} ${p}`);
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    let status: number;
    let answer: unknown;
    let logged: unknown;
    try {
      const raw = await readRaw(req);
      const refusal = takeRefusal(req.method ?? "GET", url);
      if (refusal) throw new HttpError(refusal.status, refusal.message);
      [status, answer, logged] = await route(req, url, raw);
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500;
      answer = { message: (error as Error).message };
    }
    log.record(req.method ?? "GET", url, status, logged);
    sendJson(res, status, answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => [...log.entries],
    deploys: () => [...functions.deploys],
    functions: () => new Map(functions.live),
    secrets: () => new Map(secrets.values),
    refuseNext: (refusal) => void refusals.push(refusal),
    reset: () => {
      log.entries.length = 0;
      functions.clear();
      secrets.values.clear();
      refusals.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  };
}
