import postgres from "postgres";
import { databaseUrl } from "./processes.ts";

export type Sql = postgres.Sql<Record<string, never>>;

export function connect(max = 10): Sql {
  return postgres(databaseUrl(), { max, onnotice: () => {}, connection: { application_name: "daybreak-test" } });
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
