// scripts/dev --once, as a newcomer runs it: brings the stack up, prints where each part listens,
// runs the demo, and exits 0 with nothing left running; a second run reuses the cluster and also
// succeeds. Runs on free ports and its own directory so it can sit beside a real dev stack.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort, ROOT } from "../helpers/processes.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "daybreak-dev-once-"));
fs.chmodSync(dir, 0o755);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

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
    const run = () => spawnSync("bash", ["scripts/dev", "--once"], { cwd: ROOT, env, encoding: "utf8", timeout: 240_000 });

    const first = run();
    const out1 = first.stdout + first.stderr;
    expect(first.status, out1).toBe(0);
    expect(out1).toContain(`127.0.0.1:${ports.functions}/functions/v1`);
    expect(out1).toContain(`127.0.0.1:${ports.pg}`);
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
  }, 300_000);
});
