// The local stack the soak runs against and can hurt: the cluster bench/soak/run started (its
// data directory, so it can be restarted with pg_ctl), two edge runtimes served by Deno behind one
// URL (runtime-proxy.ts; each killed with SIGKILL and started again on its port), and the mock
// provider in this process.
import { FUNCTION_NAMES } from "../../functions/_shared/constants.ts";
import { DEFAULT_PROVIDER_TIMEOUT_MS } from "../../functions/_shared/providers/chat-completion.ts";
import { retryThroughOutage } from "../../functions/_shared/transient.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { restartPostgres } from "../../harness/postgres-restart.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { CPU_RETIREMENT, type KillReason, type WorkerRecord } from "../../scripts/edge-runtime/supervisor.ts";
import { connect, type Sql } from "../lib/db.ts";
import { sleep } from "./faults.ts";
import { RuntimeProxy } from "./runtime-proxy.ts";
import type { PlannedTask } from "./task-state.ts";
import type { LimitKill } from "./worker-rule.ts";

export interface StackOptions {
  datadir: string;
  seed: number;
  organizations: number;
  promptsPerOrg: number;
  /** Requests per minute each mock model allows (and daybreak is told). */
  requestsPerMinute: number;
  /** Task lease for the soak: short, so a call that hangs outlives it within a run; null keeps the
   * shipped lease, and the shipped provider timeout with it (the full soak). */
  leaseSeconds: number | null;
  log: (line: string) => void;
}

type Functions = Awaited<ReturnType<typeof startFunctions>>;

/** A processor's worker driven into a limit: on which runtime, which worker, when its kill is due. */
export interface LimitReached {
  runtime: number;
  worker: string;
  killInMs: number;
}

export const SOAK_PROVIDERS = ["soak-alpha", "soak-beta"] as const;

const RUNTIMES = 2;

export class SoakStack {
  private readonly runtimes: (Functions | null)[] = Array.from({ length: RUNTIMES }, () => null);
  private readonly ports: (number | null)[] = Array.from({ length: RUNTIMES }, () => null);
  private proxy: RuntimeProxy | null = null;
  /** What every run must plan, from the soak's own seed: each seeded prompt × each soak provider,
   * in the one region the seed gives them. */
  plannedTasks: PlannedTask[] = [];

  private constructor(readonly sql: Sql, readonly mock: MockProvider, private readonly options: StackOptions) {}

  static async start(options: StackOptions): Promise<SoakStack> {
    const sql = connect(4, "daybreak-soak");
    const mock = await startMockProvider({
      latency: { medianMs: 120, sigma: 0.5 },
      seed: options.seed,
      limits: Object.fromEntries(SOAK_PROVIDERS.map((p) => [`${p}-model`, { requestsPerMinute: options.requestsPerMinute, burstSeconds: 1 }])),
    });
    const stack = new SoakStack(sql, mock, options);
    await stack.startFunctions();
    stack.proxy = await RuntimeProxy.start(() => stack.runtimes.map((r, i) => (r ? stack.ports[i]! : null)));
    await setVault(sql, stack.functionsUrl, TEST_CRON_SECRET);
    // The soak's runs start from their own schedules; the real one stays out of the way.
    await sql`update scheduler.schedules set enabled = false where name = 'daily-batch'`;
    if (options.leaseSeconds !== null) {
      await sql`update scheduler.config set value = ${sql.json(options.leaseSeconds)} where key = 'task_lease_seconds'`;
    }
    const { orgIds } = await seedOrganizations(sql, {
      organizations: options.organizations,
      promptsPerOrg: options.promptsPerOrg,
      providers: Object.fromEntries(SOAK_PROVIDERS.map((p) => [p, mock.url])),
    });
    const prompts = await sql<{ id: string }[]>`select id::text from public.prompts where org_id = any(${orgIds}::uuid[])`;
    if (prompts.length !== options.organizations * options.promptsPerOrg) throw new Error(`seeded ${prompts.length} prompts, expected ${options.organizations * options.promptsPerOrg}`);
    stack.plannedTasks = prompts.flatMap((p) => SOAK_PROVIDERS.map((provider) => ({ prompt_id: p.id, provider, region: "global" })));
    // With a short lease (the short soak), a provider timeout and a shortest call deadline longer
    // than the lease: a hanging call is cut off by the lease and fenced, the path a call slower than
    // its claim takes. With the shipped lease (the full soak), the shipped timeout and deadline: a
    // hanging call is cut off at its deadline, seconds after it began.
    const timeoutMs = options.leaseSeconds === null ? DEFAULT_PROVIDER_TIMEOUT_MS : (options.leaseSeconds + 30) * 1000;
    await sql`update public.providers set timeout_ms = ${timeoutMs}, requests_per_minute = ${options.requestsPerMinute}`;
    if (options.leaseSeconds !== null) {
      await sql`update scheduler.config set value = ${sql.json(timeoutMs)} where key = 'call_deadline_min_ms'`;
    }
    return stack;
  }

  get functionsUrl(): string {
    return `http://127.0.0.1:${this.proxy!.port}/functions/v1`;
  }

  /** Starts the runtimes that are down, each on its own port again. */
  async startFunctions(): Promise<void> {
    for (let i = 0; i < RUNTIMES; i++) {
      if (this.runtimes[i]) continue;
      const runtime = await startFunctions(this.ports[i] === null ? {} : { PORT: String(this.ports[i]) });
      this.ports[i] = runtime.port;
      this.runtimes[i] = runtime;
    }
  }

  /** kill -9 of every runtime: the edge runtime dying as a whole. */
  async killFunctions(): Promise<void> {
    for (let i = 0; i < RUNTIMES; i++) await this.killRuntime(i);
  }

  /** kill -9 of one runtime: the invocations it serves die, the other's carry on. */
  async killRuntime(i: number): Promise<void> {
    await this.runtimes[i]?.stop("SIGKILL");
    this.runtimes[i] = null;
  }

  /** Drives the processor's worker holding the most work into a limit (the runtime's own route,
   * POST /_edge/limit): on runtime `first`, or on the other when that one has no such worker.
   * Null when neither has one. */
  async reachWorkerLimit(reason: KillReason, first: number): Promise<LimitReached | null> {
    for (let k = 0; k < RUNTIMES; k++) {
      const runtime = (first + k) % RUNTIMES;
      if (!this.runtimes[runtime]) continue;
      const res = await fetch(`http://127.0.0.1:${this.ports[runtime]}/_edge/limit`, {
        method: "POST", body: JSON.stringify({ function: FUNCTION_NAMES.processor, reason }),
      });
      const body = (await res.json()) as { worker?: string; kill_in_ms?: number };
      if (res.status === 409) continue;
      if (res.status !== 200) throw new Error(`runtime ${runtime + 1} refused a ${reason} limit: ${res.status} ${JSON.stringify(body)}`);
      return { runtime, worker: body.worker!, killInMs: body.kill_in_ms! };
    }
    return null;
  }

  /** What the live runtimes report of the workers that ended since `since` (Date.now() ms): each
   * one killed at a limit, and the most CPU one the CPU soft limit retired spent after it (a
   * worker the soak drove to a limit is killed, not counted). */
  async workersSince(since: number): Promise<{ limitKills: LimitKill[]; maxCpuAfterRetireMs: number | null }> {
    const limitKills: LimitKill[] = [];
    let maxCpuAfterRetireMs: number | null = null;
    for (let runtime = 0; runtime < RUNTIMES; runtime++) {
      if (!this.runtimes[runtime]) continue;
      const workers = (await (await fetch(`http://127.0.0.1:${this.ports[runtime]}/_edge/workers`)).json()) as WorkerRecord[];
      for (const w of workers) {
        if (w.endedAt === null || w.endedAt < since) continue;
        if (w.retired === CPU_RETIREMENT && w.killed === null && w.cpuAtRetireMs !== null && w.function === FUNCTION_NAMES.processor) {
          maxCpuAfterRetireMs = Math.max(maxCpuAfterRetireMs ?? 0, w.cpuMs - w.cpuAtRetireMs);
        }
        if (w.killed === null) continue;
        limitKills.push({
          runtime, worker: w.id, function: w.function, killed: w.killed,
          cpuMs: w.cpuMs, lifeMs: w.endedAt! - w.startedAt, requests: w.requests, retired: w.retired,
          cpuAtRetireMs: w.cpuAtRetireMs,
        });
      }
    }
    return { limitKills, maxCpuAfterRetireMs };
  }

  /** The worker's record once its process is gone (killed, or dropped early), read from its
   * runtime's report; throws when it outlives timeoutMs. */
  async workerEnd(hit: LimitReached, timeoutMs: number): Promise<WorkerRecord> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const workers = (await (await fetch(`http://127.0.0.1:${this.ports[hit.runtime]}/_edge/workers`)).json()) as WorkerRecord[];
      const worker = workers.find((w) => w.id === hit.worker);
      if (worker !== undefined && worker.endedAt !== null) return worker;
      if (Date.now() >= until) throw new Error(`worker ${hit.worker} of runtime ${hit.runtime + 1} still alive ${timeoutMs} ms after its limit`);
      await sleep(50);
    }
  }

  restartPostgres(mode: "fast" | "immediate"): Promise<void> {
    return restartPostgres(this.options.datadir, mode);
  }

  async terminatePgNetWorker(): Promise<number> {
    const rows = await this.sql`
      select pg_terminate_backend(pid) as ok from pg_stat_activity where backend_type like 'pg_net%worker'`;
    return rows.filter((r) => r.ok).length;
  }

  /** Kicks queued in pg_net and not sent yet are deleted: they are lost, as in a crash between queue and send. */
  async dropQueuedKicks(): Promise<number> {
    const rows = await this.sql`delete from net.http_request_queue returning id`;
    return rows.length;
  }

  /** Runs act every everyMs for forMs; returns the sum of what it reported. */
  async whileRepeating(forMs: number, everyMs: number, act: () => Promise<number>): Promise<number> {
    const until = Date.now() + forMs;
    let total = 0;
    while (Date.now() < until) {
      total += await retryThroughOutage(act).catch(() => 0);
      await sleep(everyMs);
    }
    return total;
  }

  /** A read that waits out a database restart the soak itself caused. */
  read<T>(query: (sql: Sql) => Promise<T>): Promise<T> {
    return retryThroughOutage(() => query(this.sql));
  }

  async stop(): Promise<void> {
    await this.proxy?.close();
    for (const runtime of this.runtimes) await runtime?.stop();
    await this.mock.close();
    await this.sql.end({ timeout: 5 });
    this.options.log("stack stopped");
  }
}
