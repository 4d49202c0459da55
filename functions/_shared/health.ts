import { getSql } from "./db.ts";

export interface Health {
  ok: true;
  pg_cron: string;
  migrations: number;
}

export async function checkHealth(): Promise<Health> {
  const sql = getSql();
  const [row] = await sql<{ pg_cron: string | null; migrations: number }[]>`
    select (select extversion from pg_catalog.pg_extension where extname = 'pg_cron') as pg_cron,
           (select count(*)::int from supabase_migrations.schema_migrations) as migrations`;
  if (!row?.pg_cron) throw new Error("pg_cron is not installed");
  return { ok: true, pg_cron: row.pg_cron, migrations: row.migrations };
}
