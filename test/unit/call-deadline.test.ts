// CallDeadlines (functions/_shared/call-deadline.ts): how the processor reads a provider's call
// deadline from Postgres: once (for the providers an invocation starts with, in one query as it
// starts), then every 5 s behind the calls, never holding a call for the database, keeping what it
// knew when a read fails. The database is a stand-in whose answers the test releases by hand; the
// clock is injected.
import { describe, expect, it } from "vitest";
import { CallDeadlines } from "../../functions/_shared/call-deadline.ts";
import type { Sql } from "../../functions/_shared/db.ts";

/** A stand-in for the sql tag: every query waits until the test answers it (a number, rows, or an error). */
function database() {
  const pending: { provider: unknown; answer: (ms: number | Error | { provider: string; ms: number }[]) => void }[] = [];
  const query = (_strings: TemplateStringsArray, ...values: unknown[]) =>
    new Promise((resolve, reject) => {
      pending.push({
        provider: values[0],
        answer: (v) => (v instanceof Error ? reject(v) : resolve(Array.isArray(v) ? v : [{ ms: v }])),
      });
    });
  const sql = Object.assign(query, { json: (value: unknown) => value }) as unknown as Sql;
  return { sql, pending };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

/** Deadlines on a clock the test moves, whose first read of provider "a" the database answered with ms. */
async function primed(ms: number) {
  const db = database();
  const clock = { now: 0 };
  const deadlines = new CallDeadlines(db.sql, () => clock.now);
  // The first call does not wait for the read it starts: the configured timeout stands until then.
  expect(deadlines.forProvider("a", 120_000)).toBe(120_000);
  expect(db.pending.map((p) => p.provider)).toEqual(["a"]);
  db.pending.shift()!.answer(ms);
  await settle();
  expect(deadlines.forProvider("a", 120_000)).toBe(ms);
  return { db, clock, deadlines };
}

describe("the processor's view of a provider's call deadline", () => {
  it("never holds a call for the first read, then answers from it for 5 s without asking again", async () => {
    const { db, clock, deadlines } = await primed(6000);
    clock.now = 4999;
    expect(deadlines.forProvider("a", 120_000)).toBe(6000);
    expect(db.pending).toHaveLength(0);
  });

  it("refreshes behind the calls after 5 s: the call gets the deadline it had, the next one the new", async () => {
    const { db, clock, deadlines } = await primed(6000);
    clock.now = 5000;
    expect(deadlines.forProvider("a", 120_000)).toBe(6000); // not held for the read
    expect(db.pending).toHaveLength(1);
    expect(deadlines.forProvider("a", 120_000)).toBe(6000); // one read at a time
    expect(db.pending).toHaveLength(1);
    db.pending.shift()!.answer(9000);
    await settle();
    expect(deadlines.forProvider("a", 120_000)).toBe(9000);
  });

  it("a read the database has not answered yet leaves the configured timeout, for as long as it takes", async () => {
    const db = database();
    const deadlines = new CallDeadlines(db.sql, Date.now);
    expect(deadlines.forProvider("a", 120_000)).toBe(120_000);
    expect(deadlines.forProvider("a", 120_000)).toBe(120_000);
    expect(db.pending).toHaveLength(1);
    db.pending.shift()!.answer(5000);
    await settle();
    expect(deadlines.forProvider("a", 120_000)).toBe(5000);
  });

  it("a failed read keeps what was known; the configured timeout caps whatever the database says", async () => {
    const { db, clock, deadlines } = await primed(7000);
    clock.now = 6000;
    deadlines.forProvider("a", 120_000);
    db.pending.shift()!.answer(new Error("connection refused"));
    await settle();
    expect(deadlines.forProvider("a", 120_000)).toBe(7000);
    expect(deadlines.forProvider("a", 3000)).toBe(3000);
  });

  it("an invocation reads the deadlines of the providers it starts with in one query; their calls read nothing of their own", async () => {
    const db = database();
    const clock = { now: 0 };
    const deadlines = new CallDeadlines(db.sql, () => clock.now);
    deadlines.prefetch(["a", "b"]);
    expect(db.pending.map((p) => p.provider)).toEqual([["a", "b"]]);
    expect(deadlines.forProvider("a", 120_000)).toBe(120_000); // not held for it
    expect(db.pending).toHaveLength(1); // no read of their own
    db.pending.shift()!.answer([{ provider: "a", ms: 6000 }, { provider: "b", ms: 8000 }]);
    await settle();
    expect(deadlines.forProvider("a", 120_000)).toBe(6000);
    expect(deadlines.forProvider("b", 3000)).toBe(3000); // the configured timeout still caps it
    deadlines.prefetch(["a", "c"]); // only what is not known yet
    expect(db.pending.map((p) => p.provider)).toEqual([["c"]]);
    // Refreshed per provider after 5 s, as after any first read.
    clock.now = 5000;
    expect(deadlines.forProvider("a", 120_000)).toBe(6000);
    expect(db.pending.map((p) => p.provider)).toEqual([["c"], "a"]);
  });

  it("a prefetch that fails leaves the configured timeouts", async () => {
    const db = database();
    const deadlines = new CallDeadlines(db.sql, Date.now);
    deadlines.prefetch(["a"]);
    db.pending.shift()!.answer(new Error("connection refused"));
    await settle();
    expect(deadlines.forProvider("a", 120_000)).toBe(120_000);
  });
});
