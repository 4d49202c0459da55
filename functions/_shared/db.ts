// One postgres.js pool per isolate. Edge functions reach the private `scheduler` schema through
// a direct connection (SUPABASE_DB_URL, provided by Supabase to every function), never the Data API.
import postgres from "postgres";
import { requireEnv, readIntEnv } from "./env.ts";

export type Sql = postgres.Sql<Record<string, never>>;

let pool: Sql | undefined;

export function getSql(): Sql {
  if (!pool) {
    pool = postgres(requireEnv("SUPABASE_DB_URL"), {
      // Workers retire every few seconds at a busy fleet's pace (the plan's CPU limit), and a retired
      // one lives on while its processors finish their last calls (a slow provider's take 20 s):
      // small pools whose idle connections close at once keep the fleet within 30 of the smallest
      // plans' 60 direct connections (RUNBOOK, "Connection budget").
      max: readIntEnv("DAYBREAK_DB_POOL_SIZE", 3, 1),
      idle_timeout: 2,
      connect_timeout: 10,
      prepare: false, // Supavisor in transaction mode does not keep prepared statements
      onnotice: () => {},
      connection: { application_name: "daybreak-edge" },
    });
  }
  return pool;
}
