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
});
