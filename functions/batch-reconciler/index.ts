// batch-reconciler: resumes what stalled and closes what finished. Logic in ../_shared/reconciler.ts.
// Called by pg_net with `Prefer: respond-async`, it answers 202 and reconciles in the background.
import { FUNCTION_NAMES } from "../_shared/constants.ts";
import { getSql } from "../_shared/db.ts";
import { answerAsyncWhenAsked } from "../_shared/endpoint.ts";
import { readEnv } from "../_shared/env.ts";
import { handleReconcilerRequest, reconcilerRequestSchema } from "../_shared/reconciler.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return answerAsyncWhenAsked(
      req,
      { name: FUNCTION_NAMES.reconciler, schema: reconcilerRequestSchema, env: readEnv, maxBytes: 4096 },
      (r) => handleReconcilerRequest(r, { sql: getSql(), env: readEnv }),
    );
  },
};
