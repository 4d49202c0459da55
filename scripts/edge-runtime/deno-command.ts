// How a worker process is started: the real Deno binary (not npm's Node wrapper, so a kill reaches
// it), resolving the function as the deployed bundle does (scripts/lib/deno.cjs: the import map the
// Supabase CLI uploads, no deno.json, only the npm cache filled at install), with the permissions a
// function needs.
import { DENO_BIN, DENO_DIR, RESOLUTION_FLAGS } from "../lib/deno.ts";

export { DENO_DIR };

export function workerCommand(): string[] {
  return [DENO_BIN, "run", "--quiet", "--no-prompt", ...RESOLUTION_FLAGS, "--allow-net", "--allow-env", "--allow-read"];
}
