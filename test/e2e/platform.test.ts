// The local platform is real: net.http_post travels over HTTP, the Supabase CLI applied the
// migrations, and Deno serves functions that read Postgres. (pg_cron firing, on a seconds
// schedule: test/sql/platform-extensions.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { startFunctions, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

let sql: Sql;

beforeAll(async () => {
  sql = connect();
});
afterAll(async () => {
  await sql?.end();
});

describe("net.http_post (local pg_net)", () => {
  let server: http.Server;
  let port: number;
  const received: { method: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ method: req.method!, headers: req.headers, body });
        if (req.url === "/hang") return; // never answers
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ echoed: JSON.parse(body || "null") }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("delivers method, headers and JSON body, and records the response", async () => {
    const [{ id }] = await sql<{ id: string }[]>`
      select net.http_post(
        url := ${`http://127.0.0.1:${port}/echo`},
        body := '{"hello":"world","n":42}'::jsonb,
        headers := '{"Content-Type":"application/json","x-test":"yes"}'::jsonb
      )::text as id`;
    const [response] = await waitFor(
      "the response row",
      () => sql`select status_code, content, timed_out, error_msg from net._http_response where id = ${id}`,
      (r) => r.length === 1,
    );
    expect(response).toMatchObject({ status_code: 201, timed_out: false, error_msg: null });
    expect(JSON.parse(response!.content)).toEqual({ echoed: { hello: "world", n: 42 } });
    const req = received.find((r) => r.body.includes("world"))!;
    expect(req.method).toBe("POST");
    expect(req.headers["x-test"]).toBe("yes");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toMatch(/^pg_net\//);
    const [{ queued }] = await sql`select count(*)::int as queued from net.http_request_queue where id = ${id}`;
    expect(queued).toBe(0);
  });

  it("sends nothing for a transaction that rolled back", async () => {
    const before = received.length;
    const marker = `rollback-${Date.now()}`;
    await sql
      .begin(async (tx) => {
        await tx`select net.http_post(${`http://127.0.0.1:${port}/echo`}, ${tx.json({ marker })})`;
        throw new Error("roll back");
      })
      .catch(() => {});
    // A committed request issued afterwards is delivered; the rolled-back one never is.
    const [{ id }] = await sql<{ id: string }[]>`select net.http_post(${`http://127.0.0.1:${port}/echo`}, '{"after":true}'::jsonb)::text as id`;
    await waitFor("the later response", () => sql`select 1 from net._http_response where id = ${id}`, (r) => r.length === 1);
    expect(received.slice(before).some((r) => r.body.includes(marker))).toBe(false);
  });

  it("records a request to a server that never answers as timed out", async () => {
    const [{ id }] = await sql<{ id: string }[]>`
      select net.http_post(url := ${`http://127.0.0.1:${port}/hang`}, timeout_milliseconds := 500)::text as id`;
    const [response] = await waitFor(
      "the timed-out response row",
      () => sql`select status_code, timed_out, error_msg from net._http_response where id = ${id}`,
      (r) => r.length === 1,
    );
    expect(response).toMatchObject({ status_code: null, timed_out: true });
    expect(response!.error_msg).toMatch(/Timeout of 500 ms/);
  });

  it("records a connection error", async () => {
    const [{ id }] = await sql<{ id: string }[]>`select net.http_post('http://127.0.0.1:1/nothing')::text as id`;
    const [response] = await waitFor("the error row", () => sql`select status_code, timed_out, error_msg from net._http_response where id = ${id}`, (r) => r.length === 1);
    expect(response).toMatchObject({ status_code: null, timed_out: false });
    expect(response!.error_msg).toBeTruthy();
  });
});

describe("migrations", () => {
  it("were applied by the Supabase CLI: schema_migrations lists every file", async () => {
    const files = fs.readdirSync(path.join(ROOT, "supabase/migrations")).filter((f) => f.endsWith(".sql"));
    const versions = files.map((f) => f.split("_")[0]).sort();
    const rows = await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations order by version`;
    expect(rows.map((r) => r.version)).toEqual(versions);
  });
});

describe("health function on Deno", () => {
  let functions: Awaited<ReturnType<typeof startFunctions>>;
  beforeAll(async () => {
    functions = await startFunctions();
  });
  afterAll(async () => functions?.stop());

  it("answers over HTTP with values read from Postgres", async () => {
    const res = await fetch(`${functions.url}/health`, { method: "POST", headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` } });
    expect(res.status).toBe(200);
    const body = await res.json();
    const [{ extversion }] = await sql`select extversion from pg_extension where extname = 'pg_cron'`;
    const [{ n }] = await sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
    expect(body).toEqual({ ok: true, pg_cron: extversion, migrations: n });
  });

  it("refuses a call without credentials", async () => {
    const res = await fetch(`${functions.url}/health`, { method: "POST" });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "unauthorized" });
  });
});
