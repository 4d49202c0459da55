// The physical anchor: pgbench single-row UPDATE TPS on the same cluster (its own database),
// one autocommit UPDATE of a random pgbench_accounts row per transaction, prepared statements.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { databaseUrl, type Sql } from "../../lib/db.ts";

const run = promisify(execFile);
const DATABASE = "bench_pgbench";
const SCRIPT = `\\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
`;

export interface PgbenchSample {
  clients: number;
  seconds: number;
  tps: number;
}

export interface PgbenchOptions {
  clients: number[];
  seconds: number;
  scale: number;
}

export async function runPgbench(sql: Sql, o: PgbenchOptions): Promise<PgbenchSample[]> {
  const bin = path.join(process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin", "pgbench");
  const url = new URL(databaseUrl());
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  const conn = ["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username)];
  const dir = mkdtempSync(path.join(os.tmpdir(), "daybreak-pgbench-"));
  const scriptFile = path.join(dir, "update.sql");
  writeFileSync(scriptFile, SCRIPT);
  await sql.unsafe(`drop database if exists ${DATABASE}`);
  await sql.unsafe(`create database ${DATABASE}`);
  try {
    await run(bin, ["-i", "-q", "-s", String(o.scale), ...conn, DATABASE], { env });
    const samples: PgbenchSample[] = [];
    for (const clients of o.clients) {
      const { stdout } = await run(bin, [
        "-n", "-M", "prepared", "-c", String(clients), "-j", String(Math.min(clients, os.cpus().length)),
        "-T", String(o.seconds), "-f", scriptFile, ...conn, DATABASE,
      ], { env });
      const tps = /tps = ([\d.]+)/.exec(stdout);
      if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
      samples.push({ clients, seconds: o.seconds, tps: Number(tps[1]) });
    }
    return samples;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sql.unsafe(`drop database if exists ${DATABASE}`);
  }
}
