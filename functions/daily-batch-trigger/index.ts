// daily-batch-trigger: starts the day's batch exactly once. Logic in ../_shared/trigger.ts.
// Called by pg_net (the cron tick) with `Prefer: respond-async`, it answers 202 and claims and
// plans in the background; the outcome is in scheduler_runs under the call's x-request-id.
import { FUNCTION_NAMES, MAX_TRIGGER_BODY_BYTES } from "../_shared/constants.ts";
import { getSql } from "../_shared/db.ts";
import { answerAsyncWhenAsked } from "../_shared/endpoint.ts";
import { readEnv } from "../_shared/env.ts";
import { handleTriggerRequest } from "../_shared/trigger.ts";
import { triggerRequestSchema } from "../_shared/trigger-request.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return answerAsyncWhenAsked(
      req,
      { name: FUNCTION_NAMES.trigger, schema: triggerRequestSchema, env: readEnv, maxBytes: MAX_TRIGGER_BODY_BYTES },
      (r) => handleTriggerRequest(r, { sql: getSql(), env: readEnv, now: () => new Date() }),
    );
  },
};
