// Running a plan: each step's file written 0600 in a private temp directory (removed afterwards,
// also on Ctrl-C), the Supabase CLI run with its output masked, a failed step named.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandFailed, type Env } from "../cli-env.ts";
import { ROOT } from "../root.ts";
import { FILE_ARG } from "./config.ts";
import { type Plan, SECRET_INPUTS, secretValues, type Step } from "./plan.ts";
import { MASK, maskParts, pipeRedacted, unmaskParts } from "./secrets.ts";

const shellQuote = (arg: string): string => (/^[A-Za-z0-9_./:=@%+,{}-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** How a step is shown: its command line and, for a file, the file's text with secrets masked. */
export function renderStep(step: Step, index: number, total: number, filePath: string): string {
  const args = step.args.map((a) => (a === FILE_ARG ? filePath : shellQuote(a)));
  const env = Object.keys(step.secretEnv ?? {}).map((name) => `${name}=${MASK} `).join("");
  const lines = [`[${index}/${total}] ${step.title}`, `  $ ${env}supabase ${args.join(" ")}`];
  if (step.file) {
    lines.push(`    ${filePath} (mode 0600, removed afterwards):`);
    for (const l of maskParts(step.file.parts).trimEnd().split("\n")) lines.push(`      ${l}`);
  }
  return lines.join("\n");
}

/** The CLI's environment: the caller's without the secrets it has no use for (it authenticates
 * with SUPABASE_ACCESS_TOKEN; everything else arrives in files or in the step's own variables). */
function cliEnv(step: Step): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of SECRET_INPUTS) if (name !== "SUPABASE_ACCESS_TOKEN") delete env[name];
  return { ...env, ...step.secretEnv };
}

async function runStep(bin: string, step: Step, filePath: string, secrets: string[]): Promise<number> {
  const args = step.args.map((a) => (a === FILE_ARG ? filePath : a));
  const child = spawn(bin, args, { cwd: ROOT, env: cliEnv(step), stdio: ["ignore", "pipe", "pipe"] });
  const copied = Promise.all([pipeRedacted(child.stdout, process.stdout, secrets), pipeRedacted(child.stderr, process.stderr, secrets)]);
  const code = await new Promise<number>((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`cannot run ${bin}: ${error.message}\n`);
      resolve(127);
    });
    child.once("close", (status, signal) => resolve(status ?? (signal ? 128 : 1)));
  });
  await copied;
  return code;
}

/** The Supabase CLI to run; DAYBREAK_SUPABASE_BIN overrides it (tests put an argv recorder in
 * front of the real one). */
export function supabaseBin(env: Env): string {
  return env.DAYBREAK_SUPABASE_BIN || path.join(ROOT, "node_modules/.bin/supabase");
}

export async function executePlan(plan: Plan, env: Env): Promise<void> {
  const secrets = secretValues(plan, env);
  const bin = supabaseBin(env);
  const dir = mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-"));
  chmodSync(dir, 0o700);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (const [i, step] of plan.steps.entries()) {
      const filePath = step.file ? path.join(dir, step.file.name) : "";
      if (step.file) writeFileSync(filePath, unmaskParts(step.file.parts), { mode: 0o600 });
      process.stdout.write(`${renderStep(step, i + 1, plan.steps.length, filePath)}\n`);
      const code = await runStep(bin, step, filePath, secrets);
      if (step.file) rmSync(filePath, { force: true });
      if (code !== 0) {
        throw new CommandFailed(
          `step ${i + 1}/${plan.steps.length} failed (supabase exited with ${code}): ${step.title}\n` +
            `Steps before it are done; every step is idempotent: fix the cause and run the same command again.`,
        );
      }
    }
  } finally {
    cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
