// Sizes of every section, full and --quick. Full sizes are the ones the targets are stated for; quick
// sizes keep `npm run bench -- --quick` under three minutes on a 2-core machine.
import type { PacedPlan } from "../sections/paced-day/plan.ts";
import type { DaybreakVariant } from "../sections/throughput/daybreak.ts";
import type { OrgDaySizes } from "../sections/org-day.ts";

export interface ThroughputSizes {
  organizations: number;
  promptsPerOrg: number;
  /** Concurrent workers for daybreak and the libraries. */
  workers: number[];
  /** daybreak passes at every worker count: provider over HTTP or in memory, and tasks per
   * claim_tasks call (5 is the processor's default). */
  daybreakVariants: DaybreakVariant[];
  /** Worker counts at which pg-boss and graphile-worker run. */
  libraryWorkers: number[];
  /** pg-boss batchSize and graphile-worker localQueue.size. */
  libraryBatch: number;
  repetitions: number;
  pgbenchClients: number[];
  pgbenchSeconds: number;
  /** pgbench -s: 100,000 accounts per unit. */
  pgbenchScale: number;
}

export interface ShapeSizes {
  organizations: number;
  promptsPerOrg: number;
  providers: number;
}

export interface BenchSizes {
  throughput: ThroughputSizes;
  e2e: ShapeSizes & { repetitions: number };
  planning: ShapeSizes;
  reconciler: { runs: number; jobsPerRun: number; tasksPerJob: number; liveJobs: number; busyDayJobs: number; calls: number; cronHistoryDays: number };
  idle: { day: string; runMinutes: number };
  latency: ShapeSizes & { calls: number };
  pacedDay: PacedPlan;
  dashboard: ShapeSizes & { days: number };
  orgDay: OrgDaySizes;
}

export const FULL: BenchSizes = {
  throughput: {
    organizations: 200,
    promptsPerOrg: 100,
    workers: [1, 4, 16],
    daybreakVariants: [
      { provider: "http", claimBatch: 5 },
      { provider: "http", claimBatch: 50 },
      { provider: "memory", claimBatch: 50 },
    ],
    libraryWorkers: [1, 4, 16],
    libraryBatch: 50,
    repetitions: 3,
    pgbenchClients: [1, 4, 8, 16],
    pgbenchSeconds: 10,
    pgbenchScale: 10,
  },
  e2e: { organizations: 200, promptsPerOrg: 10, providers: 3, repetitions: 3 },
  planning: { organizations: 10_000, promptsPerOrg: 20, providers: 3 },
  // cronHistoryDays: cron.job_run_details as retention (30 days) leaves it: 8,928 rows a day.
  reconciler: { runs: 20, jobsPerRun: 500, tasksPerJob: 100, liveJobs: 20, busyDayJobs: 10_000, calls: 200, cronHistoryDays: 30 },
  idle: { day: "2026-11-23", runMinutes: 30 },
  latency: { organizations: 100, promptsPerOrg: 10, providers: 3, calls: 200 },
  // 12 kinds in one day, 5 repeats: 720 tasks at 600/min (72 s) each, 1,200 for the 60 s windows
  // (two windows); the peers on two kinds; a large day of 100,000 tasks at 200/s.
  pacedDay: {
    repeats: 5,
    tasks: 720,
    minuteTasks: 1200,
    targetSeconds: 72,
    minuteTargetSeconds: 120,
    organizations: 30,
    minuteOrganizations: 20,
    sizeRatio: 100,
    promptChars: [100, 12_000],
    peers: { kinds: ["sliding-10s", "tokens"], factorRange: [0.75, 3], evaluations: 3, repeats: 2 },
    capacitySearch: { maxConcurrency: 64, evaluations: 8, probeSeconds: 5 },
    large: { tasks: 100_000, organizations: 1_000, providers: 4, requestsPerMinute: 3_000, promptChars: [50, 2_000] },
  },
  // 30 days, each a run of the e2e section's size.
  dashboard: { organizations: 200, promptsPerOrg: 10, providers: 3, days: 30 },
  // 10,000 organizations in 40 time zones, 3,000 of them at 00:00 Europe/Berlin: ~1,000 per tick.
  orgDay: { organizations: 10_000, hotSpot: 3_000, day: "2026-12-02" },
};

// Quick: what differs from the full sizes.
export const QUICK: BenchSizes = {
  ...FULL,
  throughput: {
    ...FULL.throughput,
    organizations: 50,
    workers: [1, 16],
    daybreakVariants: FULL.throughput.daybreakVariants.filter((v) => v.claimBatch === 50),
    libraryWorkers: [16],
    repetitions: 1,
    pgbenchClients: [1, 16],
    pgbenchSeconds: 3,
    pgbenchScale: 1,
  },
  e2e: { ...FULL.e2e, organizations: 50, repetitions: 1 },
  planning: { ...FULL.planning, organizations: 1_000 },
  reconciler: { runs: 10, jobsPerRun: 200, tasksPerJob: 50, liveJobs: 20, busyDayJobs: 1_000, calls: 50, cronHistoryDays: 3 },
  latency: { ...FULL.latency, calls: 40 },
  pacedDay: {
    ...FULL.pacedDay,
    repeats: 2,
    tasks: 60,
    minuteTasks: 90,
    targetSeconds: 6,
    minuteTargetSeconds: 9,
    organizations: 6,
    minuteOrganizations: 3,
    sizeRatio: 20,
    peers: { ...FULL.pacedDay.peers, evaluations: 2, repeats: 0 },
    capacitySearch: { maxConcurrency: 32, evaluations: 4, probeSeconds: 2 },
    large: { ...FULL.pacedDay.large, tasks: 2_000, organizations: 100 },
  },
  dashboard: { ...FULL.dashboard, organizations: 20 },
  orgDay: { ...FULL.orgDay, organizations: 1_000, hotSpot: 300 },
};
