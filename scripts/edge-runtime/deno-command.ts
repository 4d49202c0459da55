// How a worker process is started: the real Deno binary (not npm's Node wrapper, so a kill reaches
// it), with the permissions a function needs and the repository's Deno configuration.
import { createRequire } from "node:module";

export const DENO_BIN = createRequire(import.meta.url)("deno/install_api.cjs").runInstall() as string;

export function workerCommand(): string[] {
  return [DENO_BIN, "run", "--quiet", "--no-prompt", "--allow-net", "--allow-env", "--allow-read"];
}
