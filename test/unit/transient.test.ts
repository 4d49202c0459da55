// Which database errors a step is tried again after, and how often.
import { describe, expect, it } from "vitest";
import { isTransient, retryTransient } from "../../functions/_shared/transient.ts";

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe("retryTransient", () => {
  it("tries a deadlock victim again until it goes through", async () => {
    let calls = 0;
    const retried: number[] = [];
    const result = await retryTransient(async () => {
      calls += 1;
      if (calls < 3) throw pgError("40P01");
      return "written";
    }, { baseDelayMs: 1, onRetry: (_e, attempt) => retried.push(attempt) });
    expect(result).toBe("written");
    expect(calls).toBe(3);
    expect(retried).toEqual([1, 2]);
  });

  it("throws a non-transient error at once, and a transient one after the last attempt", async () => {
    let calls = 0;
    await expect(retryTransient(async () => { calls += 1; throw pgError("23505"); }, { baseDelayMs: 1 })).rejects.toThrow("pg 23505");
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryTransient(async () => { calls += 1; throw pgError("40001"); }, { attempts: 4, baseDelayMs: 1 })).rejects.toThrow("pg 40001");
    expect(calls).toBe(4);
  });

  it("knows lost connections and shutdowns as transient, constraint and syntax errors as not", () => {
    for (const code of ["40P01", "40001", "57P01", "08006", "ECONNRESET", "CONNECTION_CLOSED"]) expect(isTransient(pgError(code)), code).toBe(true);
    for (const code of ["23505", "42601", "22023"]) expect(isTransient(pgError(code)), code).toBe(false);
    expect(isTransient(new Error("no code"))).toBe(false);
  });

  it("with forMs, keeps trying for that long whatever the count, the waits capped", async () => {
    const startedAt = Date.now();
    const delays: number[] = [];
    let calls = 0;
    await expect(retryTransient(async () => { calls += 1; throw pgError("57P03"); }, {
      forMs: 300, baseDelayMs: 5, maxDelayMs: 40, onRetry: (_e, _a, d) => delays.push(d),
    })).rejects.toThrow("pg 57P03");
    expect(calls).toBeGreaterThan(6); // more than the default attempt count
    expect(Math.max(...delays)).toBeLessThanOrEqual(40);
    // It stops before a wait would take it past its time, never after.
    const spent = delays.reduce((a, b) => a + b, 0);
    expect(spent).toBeLessThanOrEqual(300);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(spent);
  });

  it("with forMs, a database back within the time lets the step through", async () => {
    const backAt = Date.now() + 120;
    const result = await retryTransient(async () => {
      if (Date.now() < backAt) throw pgError("ECONNREFUSED");
      return "after the restart";
    }, { forMs: 2000, baseDelayMs: 5, maxDelayMs: 30 });
    expect(result).toBe("after the restart");
  });
});
