// Rules on the mock provider's call log, read against the tasks' rows. Every call carries its
// task's id and the token of the claim it was made under (x-daybreak-attempt), so:
//   every call belongs to a task of the run, under no more claims than the task had, and no claim
//   made more calls than its retries allow; a call under the task's current claim comes after that
//   claim was made (and before the task was done), a call under an earlier claim before it: no
//   worker goes on calling for a claim that was taken from it;
//   a succeeded task's result comes from its current claim: a call under the token the task still
//   holds, answered before the result was written (a fenced-off claim's answer would not be);
//   a provider answer no result was kept from (its claim was not the one that recorded the task)
//   belongs to a task that was in flight (claimed) when an answer-losing fault struck, at most one
//   per such fault; a hung call, to an injected hang.
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import { PROVIDER_DEFAULTS } from "../../functions/_shared/providers/chat-completion.ts";
import { ANSWER_LOSING, type InjectedFault } from "./faults.ts";
import { sample, type TaskState } from "./task-state.ts";

/** Returns how many claims' calls the provider worked on (answered, or hung) with no result kept
 * from them (each excused, or reported as a violation). */
export function checkCalls(tasks: TaskState[], calls: CallRecord[], faults: InjectedFault[], violations: string[]): number {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const byTask = new Map<string, CallRecord[]>();
  const strangers: string[] = [];
  const untokened: string[] = [];
  for (const call of calls) {
    if (call.status === 400) violations.push(`a malformed request reached the provider (task ${call.taskId})`);
    const task = call.taskId === null ? undefined : byId.get(call.taskId);
    if (!task) strangers.push(`${call.taskId ?? "no task id"}@${iso(call.at)}`);
    else if (!call.attempt) untokened.push(task.id);
    else byTask.set(task.id, [...(byTask.get(task.id) ?? []), call]);
  }
  if (strangers.length > 0) violations.push(`${strangers.length} provider call(s) for no task of the run: ${sample(strangers)}`);
  if (untokened.length > 0) violations.push(`${untokened.length} provider call(s) under no claim (no attempt token): ${sample(untokened)}`);

  let repeated = 0;
  const unexcused: string[] = [];
  const outOfClaim: string[] = [];
  for (const task of tasks) {
    const claims = new Map<string, CallRecord[]>();
    for (const call of byTask.get(task.id) ?? []) claims.set(call.attempt!, [...(claims.get(call.attempt!) ?? []), call]);
    // A claim given back after a 429 is no longer counted in attempts but in rate_limited.
    if (claims.size > task.attempts + task.rate_limited) {
      violations.push(`task ${task.id}: provider calls under ${claims.size} claims, it was claimed ${task.attempts + task.rate_limited} time(s)`);
    }
    outOfClaim.push(...callsOutsideTheirClaim(task, claims));
    for (const [token, list] of claims) {
      if (list.length > PROVIDER_DEFAULTS.maxAttempts) violations.push(`task ${task.id}: ${list.length} calls under one claim (${token}), retries allow ${PROVIDER_DEFAULTS.maxAttempts}`);
    }
    if (task.status === "succeeded") {
      const own = claims.get(task.token ?? "") ?? [];
      if (!own.some((c) => c.status === 200 && task.result_at !== null && c.at <= task.result_at.getTime() + CLOCK_SLACK_MS)) {
        violations.push(`task ${task.id}: its result is not from its current claim (no answer under ${task.token} before it was written)`);
      }
    }
    // Claims whose call the provider worked on (answered, or hung) but whose answer was not kept.
    let lostAnswers = 0;
    let cutOff = 0;
    for (const [token, list] of claims) {
      if (task.status === "succeeded" && token === task.token) continue;
      const hung = list.find((c) => c.status === "hang");
      if (hung) {
        repeated += 1;
        if (!faults.some((f) => f.kind === "provider_hang" && f.at <= hung.at)) unexcused.push(`${task.id}: hung at ${iso(hung.at)} with no injected hang`);
      } else if (list.some((c) => c.status === 200)) {
        repeated += 1;
        lostAnswers += 1;
        if (list.some((c) => c.status === 200 && c.delivered === false)) cutOff += 1;
      }
    }
    const struckInFlight = faults.filter((f) => ANSWER_LOSING.has(f.kind) && f.inFlight.includes(task.id)).length;
    if (lostAnswers > struckInFlight) {
      // Said apart: an answer the caller went away from (a deadline, a death) or one it received and lost.
      const how = cutOff > 0 ? `, ${cutOff} of them cut off before the answer was out` : "";
      unexcused.push(`${task.id}: ${lostAnswers} answer(s) lost${how}, in flight at ${struckInFlight} answer-losing fault(s)`);
    }
  }
  if (outOfClaim.length > 0) violations.push(`${outOfClaim.length} provider call(s) outside the claim they were made under: ${sample(outOfClaim)}`);
  if (unexcused.length > 0) violations.push(`${unexcused.length} task(s) with provider answers no result was kept from and no fault to explain them: ${sample(unexcused)}`);
  return repeated;
}

/** The database's and the mock's clocks are the same machine's; this only absorbs their rounding. */
const CLOCK_SLACK_MS = 50;

/** Calls made before their claim existed or after it was over: under the current claim, before it
 * was made or after the task was done (a cancel may overtake a call in flight, so not for a
 * cancelled task); under an earlier claim, after the current one was made. A task given back (a
 * 429, a release, a rescue) no longer holds its last claim's token: the claim with the latest call
 * is then taken for the last one and only the others are checked. */
function callsOutsideTheirClaim(task: TaskState, claims: Map<string, CallRecord[]>): string[] {
  if (task.claimed_at === null) return [];
  const claimedAt = task.claimed_at.getTime();
  const doneAt = task.status === "cancelled" ? null : task.completed_at?.getTime() ?? null;
  const latest = task.token ?? [...claims].map(([token, list]) => ({ token, at: Math.max(...list.map((c) => c.at)) }))
    .sort((a, b) => b.at - a.at)[0]?.token;
  const outside: string[] = [];
  for (const [token, list] of claims) {
    for (const call of list) {
      if (token !== latest) {
        if (call.at > claimedAt + CLOCK_SLACK_MS) outside.push(`${task.id}@${iso(call.at)} under a claim taken over at ${iso(claimedAt)}`);
      } else if (task.token !== null && call.at < claimedAt - CLOCK_SLACK_MS) {
        outside.push(`${task.id}@${iso(call.at)} before its claim`);
      } else if (task.token !== null && doneAt !== null && call.at > doneAt + CLOCK_SLACK_MS) {
        outside.push(`${task.id}@${iso(call.at)} after the task was done`);
      }
    }
  }
  return outside;
}

const iso = (ms: number) => new Date(ms).toISOString();
