// The local edge runtime keeps hosted Supabase's limits (scripts/edge-runtime): a worker takes every
// request until it retires (half its wall clock, or the CPU soft limit), is warned by beforeunload
// with the reason at 90%, and is killed at the wall clock, the CPU hard limit or the memory limit,
// measured from outside; a request cut off answers 546; the user worker sees only what hosted shows
// it. Driven with a probe function (test/fixtures/edge-functions/probe) and a recorder of the events
// the worker got; limits are made small so nothing waits 150 s.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../harness/db.ts";
import { startFunctions } from "../../harness/processes.ts";

interface Recorded {
  pid: number;
  event: string;
  reason: string | null;
  at: number;
}

let recorder: http.Server;
let recorderUrl: string;
const events: Recorded[] = [];

beforeAll(async () => {
  recorder = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      events.push(JSON.parse(body) as Recorded);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => recorder.close(() => resolve())));

/** A runtime serving only the probe, with these limits (milliseconds, megabytes). */
async function runtime(limits: Record<string, string>) {
  return await startFunctions({ RECORDER_URL: recorderUrl, DAYBREAK_EDGE_FUNCTIONS_DIR: "test/fixtures/edge-functions", ...limits });
}

async function probe(fns: { url: string }, query: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${fns.url}/probe?${query}`, { method: "POST", ...init });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const eventsOf = (pid: unknown) => events.filter((e) => e.pid === pid).map((e) => (e.reason ? `${e.event}:${e.reason}` : e.event));

describe("a worker's life", () => {
  it("takes every request, concurrent ones too, until it retires at half its wall clock; then a new worker serves", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_WALL_CLOCK_MS: "6000" });
    try {
      const first = await Promise.all([probe(fns, "hello"), probe(fns, "hello"), probe(fns, "hold=300")]);
      expect(new Set(first.map((r) => r.body.pid)).size).toBe(1);
      const old = first[0]!.body.pid as number;
      const bootedAt = Date.now();
      await probe(fns, "linger=4000"); // background work keeps the retired worker until it settles
      await new Promise((r) => setTimeout(r, 3300));
      const after = await probe(fns, "hello");
      expect(after.body.pid).not.toBe(old);
      // Retired with every request answered: drain; once its background work settled, dropped
      // early (before the wall-clock warning at 5.4 s, and never killed).
      await waitFor("the old worker to drain", async () => eventsOf(old), (e) => e.includes("drain"), 5000);
      await waitFor("the old worker to be dropped", async () => alive(old), (a) => !a, 5000, 50);
      expect(Date.now() - bootedAt).toBeLessThan(5400);
      expect(eventsOf(old)[0]).toBe("drain");
      expect(eventsOf(old)).not.toContain("beforeunload:wall_clock");
      expect(fns.output()).not.toMatch(/killed/);
    } finally {
      await fns.stop();
    }
  });

  it("is warned at 90% of its wall clock and killed at 100%: a request still open answers 546", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_WALL_CLOCK_MS: "3000" });
    try {
      const started = Date.now();
      const res = await fetch(`${fns.url}/probe?hold=10000`, { method: "POST" });
      expect(res.status).toBe(546);
      expect(await res.json()).toMatchObject({ code: "WORKER_LIMIT" });
      expect(Date.now() - started).toBeLessThan(6000);
      expect(events.some((e) => e.event === "beforeunload" && e.reason === "wall_clock")).toBe(true);
    } finally {
      await fns.stop();
    }
  });

  it("retires at the CPU soft limit and is killed at the hard limit, measured from outside; warned at 90% of it", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_CPU_SOFT_MS: "300", DAYBREAK_EDGE_CPU_HARD_MS: "1000", DAYBREAK_EDGE_WALL_CLOCK_MS: "60000" });
    try {
      const a = await probe(fns, "burn=200");
      const b = await probe(fns, "burn=200");
      expect(b.body.pid).toBe(a.body.pid);
      await waitFor("the worker to retire", async () => (await probe(fns, "hello")).body.pid, (pid) => pid !== a.body.pid, 5000, 100);
      const victim = await probe(fns, "hello");
      const killed = await probe(fns, "burn=3000");
      expect(killed.status).toBe(546);
      expect(killed.body).toMatchObject({ code: "WORKER_LIMIT" });
      expect(String(killed.body.message)).toMatch(/cpu/);
      await waitFor("the cpu warning", async () => eventsOf(victim.body.pid), (e) => e.includes("beforeunload:cpu"), 3000);
    } finally {
      await fns.stop();
    }
  });

  it("is warned at 90% of its memory and killed at the limit: a request still open answers 546", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_MEMORY_MB: "96", DAYBREAK_EDGE_WALL_CLOCK_MS: "60000" });
    try {
      const { body } = await probe(fns, "hello");
      const killed = await probe(fns, "grow=200&hold=5000");
      expect(killed.status).toBe(546);
      expect(String(killed.body.message)).toMatch(/memory/);
      await waitFor("the memory warning", async () => eventsOf(body.pid), (e) => e.includes("beforeunload:memory"), 3000);
    } finally {
      await fns.stop();
    }
  });

  it("a request not answered within the idle timeout gets 504", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_REQUEST_IDLE_TIMEOUT_MS: "1500" });
    try {
      expect((await probe(fns, "hold=4000")).status).toBe(504);
    } finally {
      await fns.stop();
    }
  });
});

describe("a limit reached on demand (POST /_edge/limit, the fault soak's way to a limit kill)", () => {
  const reachLimit = (fns: { port: number }, body: unknown) =>
    fetch(`http://127.0.0.1:${fns.port}/_edge/limit`, { method: "POST", body: JSON.stringify(body) })
      .then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

  for (const reason of ["cpu", "memory"] as const) {
    it(`${reason}: the busy worker is warned with beforeunload ${reason} and killed for it at once; its open request answers 546`, async () => {
      const fns = await runtime({ DAYBREAK_EDGE_WALL_CLOCK_MS: "60000" });
      try {
        expect((await reachLimit(fns, { function: "probe", reason })).status).toBe(409); // no worker yet
        const { body: hello } = await probe(fns, "hello");
        const open = probe(fns, "hold=10000");
        await waitFor("the request to be in flight", async () => (await fetch(`http://127.0.0.1:${fns.port}/_edge/workers`).then((r) => r.json())) as { requests: number }[],
          (ws) => ws.some((w) => w.requests === 2), 3000, 20);
        const asked = await reachLimit(fns, { function: "probe", reason });
        expect(asked).toMatchObject({ status: 200, body: { function: "probe", reason } });
        expect(Number(asked.body.kill_in_ms)).toBeLessThan(500);
        const cut = await open;
        expect(cut.status).toBe(546);
        expect(cut.body).toMatchObject({ code: "WORKER_LIMIT" });
        expect(String(cut.body.message)).toMatch(new RegExp(reason));
        await waitFor("the warning", async () => eventsOf(hello.pid), (e) => e.includes(`beforeunload:${reason}`), 3000);
        expect(alive(Number(hello.pid))).toBe(false);
        const workers = (await fetch(`http://127.0.0.1:${fns.port}/_edge/workers`).then((r) => r.json())) as { id: string; killed: string | null }[];
        expect(workers.find((w) => w.id === asked.body.worker)?.killed).toBe(reason);
        expect((await probe(fns, "hello")).body.pid).not.toBe(hello.pid); // the next request gets a new worker
      } finally {
        await fns.stop();
      }
    });
  }

  it("wall_clock: the worker is at 90% of its wall clock: retired and warned now, killed 10% of the wall clock later", async () => {
    const fns = await runtime({ DAYBREAK_EDGE_WALL_CLOCK_MS: "30000" });
    try {
      const open = probe(fns, "hold=10000");
      const asked = await waitFor("a busy worker", () => reachLimit(fns, { function: "probe", reason: "wall_clock" }), (r) => r.status === 200, 5000, 50);
      const warnedAt = Date.now();
      expect(asked.body.kill_in_ms).toBe(3000);
      const fresh = await probe(fns, "hello"); // retired: a new request goes to a new worker
      const cut = await open;
      expect(cut.status).toBe(546);
      expect(String(cut.body.message)).toMatch(/wall_clock/);
      expect(Date.now() - warnedAt).toBeGreaterThanOrEqual(2900);
      const workers = (await fetch(`http://127.0.0.1:${fns.port}/_edge/workers`).then((r) => r.json())) as { id: string; pid: number; killed: string | null }[];
      const victim = workers.find((w) => w.id === asked.body.worker)!;
      expect(victim.killed).toBe("wall_clock");
      expect(fresh.body.pid).not.toBe(victim.pid);
      const warning = events.find((e) => e.pid === victim.pid && e.event === "beforeunload" && e.reason === "wall_clock");
      expect(warning?.at).toBeLessThan(warnedAt + 1000);
    } finally {
      await fns.stop();
    }
  });

  it("refuses a reason that is not a limit, and a function it does not serve", async () => {
    const fns = await runtime({});
    try {
      expect((await reachLimit(fns, { function: "probe", reason: "boredom" })).status).toBe(400);
      expect((await reachLimit(fns, { function: "nope", reason: "cpu" })).status).toBe(400);
    } finally {
      await fns.stop();
    }
  });
});

describe("what a user worker sees", () => {
  it("EdgeRuntime is { waitUntil } only, there are no Web Workers, and process.cpuUsage() reads 0 with a warning", async () => {
    const fns = await runtime({});
    try {
      const { body } = await probe(fns, "surface");
      expect(body).toMatchObject({ worker: "undefined", edgeRuntime: ["waitUntil"], cpuUsage: { user: 0, system: 0 } });
      await waitFor("the warning in the runtime's log", async () => fns.output(), (o) => o.includes("Warning: Not implemented: process.cpuUsage()"), 3000);
    } finally {
      await fns.stop();
    }
  });

  it("dies with its runtime: a kill -9 of the runtime leaves no worker behind", async () => {
    const fns = await runtime({});
    const { body } = await probe(fns, "hello");
    await fns.stop("SIGKILL");
    await waitFor("the worker to exit", async () => alive(Number(body.pid)), (a) => !a, 5000);
  });
});

describe("the gateway outlives what it relays", () => {
  it("a worker killed in the middle of its answer cuts that answer off; the runtime goes on serving", async () => {
    const fns = await runtime({});
    try {
      const res = await fetch(`${fns.url}/probe?stream=10000`, { method: "POST" });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      const pid = Number((JSON.parse(first.split("\n")[0]!) as { pid: number }).pid);
      process.kill(pid, "SIGKILL");
      const rest = (async () => {
        for (;;) if ((await reader.read()).done) return "completed";
      })();
      await expect(rest).rejects.toThrow(); // cut off, not completed as if nothing happened
      expect(fns.proc.exitCode).toBeNull();
      expect(fns.proc.signalCode).toBeNull();
      const next = await probe(fns, "hello");
      expect(next.status).toBe(200);
      expect(next.body.pid).not.toBe(pid);
    } finally {
      await fns.stop();
    }
  });
});
