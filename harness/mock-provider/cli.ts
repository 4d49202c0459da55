// The mock provider as a process of its own (scripts/dev, the bench), so its HTTP serving does not
// share an event loop with the workers under test:
//   npx tsx harness/mock-provider/cli.ts --port 54330 --latency-median-ms 800 --latency-sigma 0.5 \
//     --rpm alpha-model=1200 --tpm alpha-model=400000 --headers openai --quota broke-model
// Prints `mock provider listening on http://127.0.0.1:54330/v1`; driven through its control routes.
import { parseArgs } from "node:util";
import { READY_PREFIX, startMockProvider, type HeaderStyle, type ModelLimits } from "./index.ts";

const CLI_USAGE = `usage: mock-provider/cli.ts [--port N] [--host H] [--latency MS | --latency-median-ms MS --latency-sigma S]
  [--seed N] [--rpm MODEL=N]... [--tpm MODEL=N]... [--burst-seconds S] [--headers openai|anthropic|none] [--quota MODEL]...`;

function nonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a number >= 0, got ${value}\n${CLI_USAGE}`);
  return n;
}

/** `--rpm model=1200` flags into per-model limits. */
function parseLimitFlags(values: { rpm?: string[]; tpm?: string[]; quota?: string[]; headers?: string; "burst-seconds"?: string }): Record<string, ModelLimits> {
  const limits: Record<string, ModelLimits> = {};
  const style = (values.headers ?? "openai") as HeaderStyle;
  if (!["openai", "anthropic", "none"].includes(style)) throw new Error(`--headers must be openai, anthropic or none\n${CLI_USAGE}`);
  const burstSeconds = values["burst-seconds"] === undefined ? undefined : nonNegative("--burst-seconds", values["burst-seconds"]);
  const of = (model: string) => (limits[model] ??= { headers: style, ...(burstSeconds ? { burstSeconds } : {}) });
  for (const [flag, key] of [["rpm", "requestsPerMinute"], ["tpm", "tokensPerMinute"]] as const) {
    for (const pair of values[flag] ?? []) {
      const match = /^([^=]+)=(\d+(?:\.\d+)?)$/.exec(pair);
      if (!match) throw new Error(`--${flag} takes MODEL=N, got ${pair}\n${CLI_USAGE}`);
      of(match[1]!)[key] = Number(match[2]);
    }
  }
  for (const model of values.quota ?? []) of(model).quotaExhausted = true;
  return limits;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      latency: { type: "string", default: "0" },
      "latency-median-ms": { type: "string" },
      "latency-sigma": { type: "string", default: "0" },
      seed: { type: "string", default: "1" },
      rpm: { type: "string", multiple: true },
      tpm: { type: "string", multiple: true },
      quota: { type: "string", multiple: true },
      headers: { type: "string" },
      "burst-seconds": { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  const latencyMs = Math.round(nonNegative("--latency", values.latency));
  const median = values["latency-median-ms"];
  const mock = await startMockProvider({
    port,
    host: values.host,
    latencyMs,
    latency: median === undefined ? null : { medianMs: nonNegative("--latency-median-ms", median), sigma: nonNegative("--latency-sigma", values["latency-sigma"]) },
    seed: Math.round(nonNegative("--seed", values.seed)),
    limits: parseLimitFlags(values),
  });
  console.log(`${READY_PREFIX} ${mock.url}`);
  const stop = () => {
    mock.close().then(() => process.exit(0), (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
