// What the numbers were measured on: machine, Postgres and its key settings, runtime and package
// versions. Recorded with every result, since only ratios hold across machines.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../../scripts/lib/root.ts";
import type { Sql } from "./db.ts";

const PG_SETTINGS = [
  "shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size", "max_connections",
  "synchronous_commit", "fsync", "wal_level", "max_wal_size", "checkpoint_timeout", "jit", "autovacuum",
  "random_page_cost", "shared_preload_libraries",
];

const PACKAGES = ["pg-boss", "graphile-worker", "postgres", "pg", "deno", "supabase", "tsx", "zod"];

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverageAtStart: number[];
  node: string;
  platform: string;
  daybreakCommit: string | null;
  /** Uncommitted changes in the work tree when the benchmark ran. */
  workTreeDirty: boolean | null;
  postgres: { version: string; settings: Record<string, string> };
  packages: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "not installed";
  }
}

function git(...args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

export async function describeMachine(sql: Sql): Promise<MachineInfo> {
  const [v] = await sql<{ version: string }[]>`select version()`;
  const rows = await sql<{ name: string; setting: string }[]>`
    select name, case when unit is null then setting else current_setting(name) end as setting
      from pg_settings where name = any(${PG_SETTINGS})`;
  const gitStatus = git("status", "--porcelain", "--untracked-files=no");
  return {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    daybreakCommit: git("rev-parse", "--short", "HEAD"),
    workTreeDirty: gitStatus === null ? null : gitStatus.length > 0,
    postgres: { version: v!.version, settings: Object.fromEntries(rows.map((r) => [r.name, r.setting])) },
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(p)])),
  };
}
