// weekly-suggestions: asks each organization's provider for five new prompts (../_shared/suggestions.ts),
// through the processor's paced, fenced claims (../_shared/processor.ts). Kicked by pg_net with
// `Prefer: respond-async`, it answers 202 and works in the background.
import { FUNCTION_NAMES } from "../_shared/constants.ts";
import { getSql } from "../_shared/db.ts";
import { answerAsyncWhenAsked } from "../_shared/endpoint.ts";
import { readEnv } from "../_shared/env.ts";
import { handleProcessorRequest, processorRequestSchema, processorSettingsFromEnv } from "../_shared/processor.ts";

export default {
  fetch: (req: Request): Promise<Response> => answerAsyncWhenAsked(req, { name: FUNCTION_NAMES.suggestions, schema: processorRequestSchema, env: readEnv, maxBytes: 4096 },
    (r) => handleProcessorRequest(r, { sql: getSql(), env: readEnv, settings: processorSettingsFromEnv() }, FUNCTION_NAMES.suggestions)),
};
