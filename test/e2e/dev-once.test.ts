// scripts/dev --once, as a newcomer runs it: brings the stack up, prints where each part listens,
// runs the demo, and exits 0 with nothing left running; a second run reuses the cluster and also
// succeeds. Runs on free ports and its own directory so it can sit beside a real dev stack. That
// directory is one only its owner may enter (mode 0700, like /root or a mktemp -d): as root the
// server runs as `postgres`, which cannot reach it, so the cluster's data must live elsewhere and
// still be removed by --reset.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "daybreak-dev-once-"));
fs.chmodSync(dir, 0o700);
const isRoot = process.getuid?.() === 0;
// Where scripts/lib/platform.sh (cluster_datadir) puts the data of a cluster postgres cannot reach.
const relocated = `/var/tmp/daybreak-${createHash("sha256").update(path.join(dir, "local/pg")).digest("hex").slice(0, 16)}`;
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (isRoot) fs.rmSync(relocated, { recursive: true, force: true });
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => { socket.destroy(); resolve(true); });
    socket.on("error", () => resolve(false));
  });
}

describe("scripts/dev --once", () => {
  it("runs the demo twice in a row and leaves nothing running", async () => {
    const ports = { pg: await freePort(), functions: await freePort(), mock: await freePort() };
    const env = {
      ...process.env,
      DAYBREAK_DEV_DIR: path.join(dir, "local"),
      DAYBREAK_DEV_PG_PORT: String(ports.pg),
      DAYBREAK_DEV_FUNCTIONS_PORT: String(ports.functions),
      DAYBREAK_DEV_MOCK_PORT: String(ports.mock),
      NO_COLOR: "1",
    };
    const run = (...extra: string[]) =>
      spawnSync("bash", ["scripts/dev", "--once", ...extra], { cwd: ROOT, env, encoding: "utf8", timeout: 240_000 });

    const first = run();
    const out1 = first.stdout + first.stderr;
    expect(first.status, out1).toBe(0);
    expect(out1).toContain(`127.0.0.1:${ports.functions}/functions/v1`);
    expect(out1).toContain(`127.0.0.1:${ports.pg}`);
    expect(out1).toContain(`127.0.0.1:${ports.functions}/functions/v1/daybreak-dashboard `);
    expect(out1).toContain(`127.0.0.1:${ports.functions}/functions/v1/daybreak-dashboard/metrics`);
    expect(out1).toMatch(/total\s+39\s+39\s+0\s+0\s+completed/);
    // The providers' limits were learned from the mock's headers (scripts/dev starts it limited).
    expect(out1).toMatch(/mock-openai\s+20\s+20\s+\d+\s+\d+\s+\d+\s+240\s+learned/);
    expect(out1).toMatch(/mock-perplexity\s+9\s+9\s+\d+\s+\d+\s+\d+\s+120\s+learned/);
    expect(out1).not.toMatch(/CRON_SECRET=\S{10,}/);

    const second = run();
    const out2 = second.stdout + second.stderr;
    expect(second.status, out2).toBe(0);
    expect(out2).toMatch(/already_ran/);
    expect(out2).toMatch(/reusing/);

    for (const port of Object.values(ports)) expect(await listening(port), `port ${port}`).toBe(false);
    expect(fs.existsSync(path.join(dir, "local/pg/postmaster.pid"))).toBe(false);
    // As root the data lived outside the 0700 directory, and --reset removes it there.
    expect(fs.existsSync(path.join(relocated, "pg/PG_VERSION"))).toBe(isRoot);
    const third = run("--reset");
    const out3 = third.stdout + third.stderr;
    expect(third.status, out3).toBe(0);
    if (isRoot) expect(out3).toContain(`wiping ${path.join(dir, "local")} and ${relocated}`);
    expect(out3).toMatch(/total\s+39\s+39\s+0\s+0\s+completed/); // a fresh cluster: the day runs again
  }, 420_000);
});
