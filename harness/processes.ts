// Real processes for tests (Deno functions, the mock provider), started
// and stopped with explicit readiness: a service is ready when it prints its ready line.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { DENO_DIR } from "../scripts/lib/deno.ts";
import { ROOT } from "../scripts/lib/root.ts";
import { databaseUrl } from "./db.ts";

export interface Service {
  proc: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startService(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<Service> {
  const proc = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.DAYBREAK_TEST_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    proc,
    output: () => output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      // A graceful stop may wait on idle keep-alive connections; tests do not need to wait for that.
      const escalate = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(escalate);
    },
  };
}

export const TEST_CRON_SECRET = "test-cron-secret-0123456789abcdefghijklmnop";
export const TEST_SERVICE_ROLE_KEY = "test-service-role-key-0123456789abcdefghijkl";
export const TEST_METRICS_TOKEN = "test-metrics-token-0123456789abcdefghijklmnop";

/** The edge functions behind the local edge runtime (scripts/edge-runtime: workers with hosted
 * limits), as scripts/dev serves them. One Node process: a kill -9 of it takes its workers with it. */
export async function startFunctions(extraEnv: Record<string, string> = {}): Promise<Service & { url: string; port: number }> {
  const port = Number(extraEnv.PORT ?? (await freePort()));
  const service = await startService(
    "functions",
    process.execPath,
    ["--import", "tsx", "scripts/edge-runtime/gateway.ts", "--port", String(port)],
    {
      DENO_DIR,
      SUPABASE_DB_URL: databaseUrl(),
      SUPABASE_URL: `http://127.0.0.1:${port}`,
      CRON_SECRET: TEST_CRON_SECRET,
      SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY,
      DAYBREAK_METRICS_TOKEN: TEST_METRICS_TOKEN,
      DAYBREAK_FUNCTIONS_URL: `http://127.0.0.1:${port}/functions/v1`,
      NO_COLOR: "1",
      ...extraEnv,
    },
    /Listening on/,
  );
  return { ...service, port, url: `http://127.0.0.1:${port}/functions/v1` };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with exactly this environment (nothing inherited), capturing output. */
export function runCommand(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
