// Server-side timing of the edge functions' SQL: a login role of their own whose statements
// Postgres logs with their durations (log_min_duration_statement = 0 for that role only), read
// back from the cluster's server.log (bench/run passes its data directory as BENCH_DATADIR).
import { closeSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";
import type { Sql } from "./db.ts";

export const EDGE_ROLE = "bench_edge";
const EDGE_PASSWORD = "bench-edge-password";

export interface LoggedStatement {
  ms: number;
  phase: string;
  text: string;
}

/** A superuser login for the functions (they run as postgres on Supabase too) whose statements are logged. */
export async function createLoggedRole(sql: Sql, databaseUrl: string): Promise<string> {
  await sql.unsafe(`do $$ begin
    if not exists (select from pg_roles where rolname = '${EDGE_ROLE}') then
      create role ${EDGE_ROLE} login superuser password '${EDGE_PASSWORD}';
    end if; end $$`);
  await sql.unsafe(`alter role ${EDGE_ROLE} set log_min_duration_statement = 0`);
  const url = new URL(databaseUrl);
  url.username = EDGE_ROLE;
  url.password = EDGE_PASSWORD;
  return url.toString();
}

export class ServerLog {
  private readonly file: string | null;
  private offset = 0;

  constructor() {
    const datadir = process.env.BENCH_DATADIR;
    this.file = datadir ? path.join(datadir, "server.log") : null;
  }

  get available(): boolean {
    return this.file !== null;
  }

  /** Forget everything logged so far. */
  mark(): void {
    if (this.file) this.offset = statSync(this.file).size;
  }

  /** Duration lines logged since the last mark. */
  statements(): LoggedStatement[] {
    if (!this.file) return [];
    const size = statSync(this.file).size;
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, "r");
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    // An entry starts with the log_line_prefix timestamp; a multi-line statement continues on
    // the following lines.
    const entries: string[] = [];
    for (const line of buffer.toString("utf8").split("\n")) {
      if (/^\d{4}-\d\d-\d\d /.test(line) || entries.length === 0) entries.push(line);
      else entries[entries.length - 1] += ` ${line}`;
    }
    const out: LoggedStatement[] = [];
    for (const entry of entries) {
      const m = /duration: ([\d.]+) ms\s+(parse|bind|execute|statement)[^:]*:\s*(.*)$/s.exec(entry);
      if (m) out.push({ ms: Number(m[1]), phase: m[2]!, text: m[3]!.replace(/\s+/g, " ").trim() });
    }
    return out;
  }
}

/** Splits a sequence of calls into one group per call: a new call starts at `firstStatement`. */
export function groupByCall(statements: LoggedStatement[], firstStatement: string): LoggedStatement[][] {
  const calls: LoggedStatement[][] = [];
  let previousWasFirst = false;
  for (const s of statements) {
    const isFirst = s.text.includes(firstStatement);
    if (isFirst && !previousWasFirst) calls.push([]);
    previousWasFirst = isFirst;
    calls.at(-1)?.push(s);
  }
  return calls;
}
