// The provider simulator as a process of its own, so its event loop is not the bench's:
//   npx tsx bench/sim/cli.ts --port 0
// Prints `provider simulator listening on http://127.0.0.1:PORT/v1`; configured and read through
// its control routes (bench/sim/process.ts).
import { parseArgs } from "node:util";
import { SIM_READY, startSimulator } from "./server.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });
  const sim = await startSimulator(Number(values.port));
  console.log(`${SIM_READY} ${sim.url}`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(2);
});
