// The demo `scripts/dev` runs once the stack is up: each step talks to the running stack and
// prints what it saw; any failed step exits non-zero (so `scripts/dev --once` fails with it).
// Run alone against a running stack: `node_modules/.bin/tsx scripts/lib/dev-demo.ts`.
import { callFunction, loadDevStack, type DevStack } from "./dev-stack.ts";

const say = (line: string) => console.log(`[demo] ${line}`);

interface HealthAnswer {
  ok: boolean;
  pg_cron?: string;
  migrations?: number;
}

/** Step 1: the health function proves Deno → Postgres, pg_cron and the applied migrations. */
async function checkHealth(stack: DevStack): Promise<void> {
  say(`POST ${stack.functionsUrl}/health`);
  const { status, body } = await callFunction(stack, "health");
  const answer = body as HealthAnswer;
  if (status !== 200 || typeof answer !== "object" || answer === null || answer.ok !== true) {
    throw new Error(`health answered ${status}: ${JSON.stringify(body)}`);
  }
  say(`health ok: pg_cron ${answer.pg_cron}, ${answer.migrations} migration(s) applied`);
}

// Later steps (seed a schedule, force a run, watch it finish) go here, in order.
const steps: Array<(stack: DevStack) => Promise<void>> = [checkHealth];

async function main(): Promise<void> {
  const stack = loadDevStack();
  for (const step of steps) await step(stack);
  say("done");
}

main().catch((error: unknown) => {
  const e = error as Error & { cause?: { message?: string } };
  console.error(`[demo] failed: ${e.message}${e.cause?.message ? ` (${e.cause.message})` : ""}`);
  process.exit(1);
});
