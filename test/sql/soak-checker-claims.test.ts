// The soak's checker against the state daybreak's own claim and record functions leave (not rows
// set by hand): a run worked through claim_paced_tasks and record_task_outcomes, with a 429 given
// back and claimed again, passes every rule; a worker that calls on under the claim it gave back,
// or a second answer no fault explains, does not.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkRun, type CheckInput } from "../../bench/soak/checker.ts";
import type { PlannedTask } from "../../bench/soak/task-state.ts";
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { recordOutcomes, startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
afterAll(() => sql.end());

let runId: string;
let expected: PlannedTask[];
const t0 = Date.now();

beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
  const { orgIds } = await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set requests_per_minute = 6000000`;
  expected = (await sql<{ id: string }[]>`select id::text from public.prompts where org_id = any(${orgIds}::uuid[])`)
    .map((p) => ({ prompt_id: p.id, provider: "a", region: "global" }));
  ({ runId } = await startRunInSql(sql));
});

type Claimed = { task_id: string; attempt_token: string };
async function claim(): Promise<Claimed[]> {
  const [row] = await sql<{ c: { tasks: Claimed[] } }[]>`select scheduler.claim_paced_tasks('soak-test-worker', 'a', 10) as c`;
  return row!.c.tasks;
}
const call = (t: Claimed, status: CallRecord["status"] = 200): CallRecord =>
  ({ taskId: t.task_id, attempt: t.attempt_token, model: "a-model", region: "global", at: Date.now(), status });
const succeeded = (t: Claimed) => ({ ...t, outcome: "succeeded", answered_by: "a", model: "a-model", response: "ok", attempts: 1, latency_ms: 5 });
function input(calls: CallRecord[]): CheckInput {
  return {
    runId, startedAt: t0 - 60_000, expected, calls, faults: [], limitKills: [],
    reconcile: { report: { stale: 0, resumed: 0, finalized: 0, failed: 0, runs_closed: 0, rescued: { processors: 0, tasks: 0 } }, stopped: {} },
  };
}

/** Claims every task, answers two and gets a 429 for the third, which is claimed again and answered.
 * Returns the provider's log of it and the claim the 429 gave back. */
async function workTheRun(): Promise<{ calls: CallRecord[]; givenBack: Claimed }> {
  const first = await claim();
  expect(first).toHaveLength(3);
  const [a, b, c] = first as [Claimed, Claimed, Claimed];
  const calls = [call(a), call(b), call(c, 429)];
  await recordOutcomes(sql, "soak-test-worker", [succeeded(a), succeeded(b), { ...c, outcome: "rate_limited" }]);
  const again = await claim();
  expect(again.map((t) => t.task_id)).toEqual([c.task_id]);
  calls.push(call(again[0]!));
  const report = await recordOutcomes(sql, "soak-test-worker", [succeeded(again[0]!)]);
  for (const job of report.jobs_to_finalize) await sql`select scheduler.finalize_batch_job(${job})`;
  await sql`update scheduler.processors set status = 'stopped'`;
  await sql`update scheduler.scheduler_runs set status = 'completed' where status = 'running'`;
  return { calls, givenBack: c };
}

describe("the soak's checker, on state daybreak's functions leave", () => {
  it("passes a run worked through claim and record, a 429 given back and claimed again included", async () => {
    const { calls } = await workTheRun();
    const check = await checkRun(sql, input(calls));
    expect(check.violations).toEqual([]);
    expect(check.runStatus).toBe("completed");
    expect(check.repeatedAnswers).toBe(0);
  });

  it("reports a worker calling on under the claim it gave back", async () => {
    const { calls, givenBack } = await workTheRun();
    const later = { ...call(givenBack, 500), at: calls.at(-1)!.at + 1000 }; // a second after the task was claimed again
    const { violations } = await checkRun(sql, input([...calls, later]));
    expect(violations).toEqual([expect.stringMatching(/^1 provider call\(s\) outside the claim they were made under: \d+@.* under a claim taken over at /)]);
  });

  it("reports a second answer for a task that no fault explains", async () => {
    const { calls, givenBack } = await workTheRun();
    const early = { ...call(givenBack), at: calls[0]!.at };
    const { violations } = await checkRun(sql, input([...calls.slice(0, 2), early, ...calls.slice(3)]));
    expect(violations).toEqual([expect.stringMatching(/^1 task\(s\) with provider answers no result was kept from and no fault to explain them/)]);
  });
});
