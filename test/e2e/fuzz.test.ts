// The three functions under generated bad input (fast-check): unknown keys, non-objects, malformed
// and truncated JSON, non-UTF-8 bytes, deep nesting, oversized bodies, wrong content types and
// methods, with and without credentials. Every answer is a 4xx JSON body, never a 5xx, and
// nothing is written.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { countRows, resetState } from "../../harness/fixtures.ts";
import { startFunctions, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";

let sql: Sql;
let fns: Awaited<ReturnType<typeof startFunctions>>;

beforeAll(async () => {
  sql = connect();
  fns = await startFunctions();
  await resetState(sql);
});
afterAll(async () => {
  await fns?.stop();
  await sql?.end();
});

const encoder = new TextEncoder();

/** Bodies no function accepts: every request schema is a strict object. */
const badBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 })), fc.string({ minLength: 1, maxLength: 8 }))
    .map(([d, k]) => encoder.encode(JSON.stringify({ ...d, [`unknown_${k}`]: true }))),
  fc.jsonValue({ maxDepth: 2 }).filter((v) => v === null || typeof v !== "object" || Array.isArray(v))
    .map((v) => encoder.encode(JSON.stringify(v) ?? "null")),
  fc.string({ maxLength: 200 }).map((s) => encoder.encode(`{${s}`)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => { const t = JSON.stringify({ note: v }); return encoder.encode(t.slice(0, Math.max(1, t.length - 1))); }),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => new Uint8Array([...encoder.encode('{"note":"'), 0xff, 0xfe, ...b])),
  fc.integer({ min: 100, max: 3000 }).map((n) => encoder.encode(`${'{"x":'.repeat(n)}1${"}".repeat(n)}`)),
  fc.integer({ min: 20_000, max: 300_000 }).map((n) => encoder.encode(`{"note":"${"x".repeat(n)}"}`)),
);

const request = fc.record({
  fn: fc.constantFrom("daily-batch-trigger", "robust-batch-processor", "batch-reconciler"),
  method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"),
  contentType: fc.constantFrom<string | null>("application/json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json; charset=latin1", null),
  authorized: fc.boolean(),
  body: badBody,
});

describe("fuzzed bad input", () => {
  it("is always answered 4xx with a JSON body, and nothing is written", async () => {
    const before = await countRows(sql);
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.authorized) {
          headers.authorization = `Bearer ${TEST_SERVICE_ROLE_KEY}`;
          headers["x-manual-call"] = "true";
        }
        const res = await fetch(`${fns.url}/${r.fn}`, {
          method: r.method, headers, body: r.method === "GET" ? undefined : new Blob([r.body as Uint8Array<ArrayBuffer>]),
        });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${r.method} ${r.fn} → ${res.status} ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${r.method} ${r.fn} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        expect(() => JSON.parse(text)).not.toThrow();
      }),
      { numRuns: 300, seed: 20261123 },
    );
    expect(await countRows(sql)).toEqual(before);
    // The generator reached every layer: method, credentials, size and body checks.
    for (const status of [400, 401, 405, 413]) expect(seen.get(status) ?? 0, `status ${status} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
  }, 120_000);
});
