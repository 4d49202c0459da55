// Restarts the real PostgreSQL cluster a suite or the soak runs against (pg_ctl restart, as the
// server's user, which scripts/lib/platform.sh knows), in the given shutdown mode.
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "../scripts/lib/root.ts";

export function clusterDatadir(): string {
  const datadir = process.env.DAYBREAK_TEST_DATADIR ?? process.env.DAYBREAK_SOAK_DATADIR;
  if (!datadir) throw new Error("DAYBREAK_TEST_DATADIR is not set: run the suites through scripts/test");
  return datadir;
}

export function restartPostgres(datadir: string, mode: "fast" | "immediate"): Promise<void> {
  const script = `source "${path.join(ROOT, "scripts/lib/platform.sh")}" && as_pg_owner "$PG_BIN/pg_ctl" -D "$1" -m "$2" -w -t 120 restart -l "$1/server.log" >/dev/null`;
  return new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["-c", script, "restart", datadir, mode], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart -m ${mode} failed (${code}): ${stderr}`))));
  });
}
