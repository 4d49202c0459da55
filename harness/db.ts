// Connections to the cluster scripts/test (or bench/run, or the soak) stood up, for tests and the
// bench alike, and polling for a state the system under test will reach.
import postgres from "postgres";
import type { Sql } from "../functions/_shared/db.ts";

export type { Sql };

/** The throwaway cluster's URL, which scripts/test, bench/run and bench/soak/run export. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run through scripts/test, npm run bench or npm run soak");
  return url;
}

export function connect(max = 10, name = "daybreak-harness", onnotice: (n: postgres.Notice) => void = () => {}): Sql {
  return postgres(databaseUrl(), { max, onnotice, connection: { application_name: name } }) as Sql;
}

/** Polls a condition the system under test will make true; fails with the last value seen. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await probe();
  }
  return last;
}
