// One postgres.js pool per isolate. Edge functions reach the private `scheduler` schema through
// a direct connection (SUPABASE_DB_URL, provided by Supabase to every function), never the Data API.
import postgres from "postgres";
import { requireEnv, readIntEnv } from "./env.ts";

export type Sql = postgres.Sql<Record<string, never>>;

let pool: Sql | undefined;

export function getSql(): Sql {
  if (!pool) {
    pool = postgres(requireEnv("SUPABASE_DB_URL"), {
      max: readIntEnv("DAYBREAK_DB_POOL_SIZE", 5, 1),
      idle_timeout: 20,
      connect_timeout: 10,
      prepare: false, // Supavisor in transaction mode does not keep prepared statements
      onnotice: () => {},
      connection: { application_name: "daybreak-edge" },
    });
  }
  return pool;
}
