// robust-batch-processor: works through batch jobs until its time budget. Logic in ../_shared/processor.ts.
// Kicked by pg_net with `Prefer: respond-async`, it answers 202 and works in the background
// (EdgeRuntime.waitUntil), so a kick never holds pg_net's worker for the length of a run.
import { FUNCTION_NAMES } from "../_shared/constants.ts";
import { getSql } from "../_shared/db.ts";
import { answerAsyncWhenAsked } from "../_shared/endpoint.ts";
import { readEnv } from "../_shared/env.ts";
import { handleProcessorRequest, processorRequestSchema, processorSettingsFromEnv } from "../_shared/processor.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return answerAsyncWhenAsked(
      req,
      { name: FUNCTION_NAMES.processor, schema: processorRequestSchema, env: readEnv, maxBytes: 4096 },
      (r) => handleProcessorRequest(r, { sql: getSql(), env: readEnv, settings: processorSettingsFromEnv() }),
    );
  },
};
