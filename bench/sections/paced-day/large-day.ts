// A large day, measured: many organizations of skewed sizes, a total rate this machine sustains,
// split over a few providers (sliding 10 s windows, headers on every answer) whose limits are
// configured (the day measures scale, not discovery: unconfigured, today's pacer would start each at
// its unknown-provider rate). Makespan against its bound, the fleet over time, processor CPU per task
// from outside the workers, the database's share of the machine, fairness.
import { resetState, setVault } from "../../../harness/fixtures.ts";
import { TEST_CRON_SECRET } from "../../../harness/processes.ts";
import { analyzeSchemas, type Sql } from "../../lib/db.ts";
import { log } from "../../lib/report.ts";
import { round } from "../../lib/stats.ts";
import { kindSchema, type Kind } from "../../sim/kinds.ts";
import { runDaybreakDay, type DaybreakPass } from "./daybreak-pass.ts";
import { providerFigures, type ProviderFigures } from "./figures.ts";
import { COMPLETION, LATENCY } from "./kinds.ts";
import type { PacedPlan } from "./plan.ts";
import { seedPacedDay } from "./seed.ts";
import type { DayServices } from "./services.ts";

export interface LargeDay {
  tasks: number;
  organizations: number;
  providers: number;
  requestsPerMinute: number;
  makespanSeconds: number;
  boundSeconds: number;
  /** makespan ÷ bound (goal ≤ 1.2). */
  ratio: number;
  tasksPerSecond: number;
  perProvider: ProviderFigures[];
  pass: Omit<DaybreakPass, "sim">;
  /** The database's cores ÷ the machine's busy cores over the run. */
  databaseShare: number | null;
}

export async function largeDay(sql: Sql, services: DayServices, plan: PacedPlan["large"]): Promise<LargeDay> {
  const sim = services.sim;
  await resetState(sql); // empties Vault too: the functions' URL and secret go back below
  await setVault(sql, services.functions.url, TEST_CRON_SECRET);
  const names = Array.from({ length: plan.providers }, (_, i) => `large-${i + 1}`);
  const kind: Kind = kindSchema.parse({
    requests: { mode: "sliding", windowSeconds: 10, perMinute: plan.requestsPerMinute }, headers: "always", latency: LATENCY, completion: COMPLETION,
  });
  const kinds = Object.fromEntries(names.map((n) => [n, kind]));
  await sim.configure({ seed: 11, kinds });
  log(`paced day: large day, seeding ${plan.tasks.toLocaleString("en-US")} tasks over ${plan.organizations} organizations`);
  const seeded = await seedPacedDay(sql, sim.url, names, [
    { label: "large", organizations: plan.organizations, prompts: Math.round(plan.tasks / plan.providers), ratio: 100, providers: names },
  ], plan.promptChars, 29);
  await analyzeSchemas(sql, "scheduler", "public");
  log(`paced day: large day, ${plan.providers} providers at ${plan.requestsPerMinute}/min each`);
  const { sim: stats, ...pass } = await services.withRevival("large day", () =>
    runDaybreakDay(sql, services, kinds, { note: "paced day (large)", configured: true, sampleFleet: true }));
  const perProvider = names.map((n) => providerFigures(n, kind, seeded.tasksByProvider[n]!, stats.models[n]!, pass.startedAt));
  const boundSeconds = Math.max(...perProvider.map((p) => p.bound.seconds));
  const makespan = pass.makespanSeconds;
  const tasks = Object.values(seeded.tasksByProvider).reduce((a, b) => a + b, 0);
  return {
    tasks,
    organizations: seeded.organizations,
    providers: plan.providers,
    requestsPerMinute: plan.requestsPerMinute,
    makespanSeconds: makespan,
    boundSeconds: round(boundSeconds, 1),
    ratio: round(makespan / boundSeconds, 3),
    tasksPerSecond: round(tasks / makespan, 1),
    perProvider,
    pass,
    databaseShare: pass.cpu.postgres !== null && pass.cpu.machine ? round(pass.cpu.postgres / pass.cpu.machine, 3) : null,
  };
}
