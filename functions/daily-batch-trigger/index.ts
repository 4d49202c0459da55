// daily-batch-trigger: starts the day's batch exactly once. Logic in ../_shared/trigger.ts.
import { getSql } from "../_shared/db.ts";
import { readEnv } from "../_shared/env.ts";
import { handleTriggerRequest } from "../_shared/trigger.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return handleTriggerRequest(req, { sql: getSql(), env: readEnv, now: () => new Date() });
  },
};
