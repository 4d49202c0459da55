// Runtime-neutral environment access: the same file runs under Deno (edge functions) and Node
// (scripts, tests). No `Deno.*` or `node:*` here, only what both runtimes put on globalThis.

type DenoLike = { env: { get(name: string): string | undefined } };
type ProcessLike = { env: Record<string, string | undefined> };

export function readEnv(name: string): string | undefined {
  const g = globalThis as { Deno?: DenoLike; process?: ProcessLike };
  const value = g.Deno ? g.Deno.env.get(name) : g.process?.env[name];
  return value === undefined || value === "" ? undefined : value;
}

export function requireEnv(name: string): string {
  const value = readEnv(name);
  if (value === undefined) throw new Error(`missing environment variable ${name}`);
  return value;
}

export function readIntEnv(name: string, fallback: number, min = 0): number {
  const raw = readEnv(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`environment variable ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
