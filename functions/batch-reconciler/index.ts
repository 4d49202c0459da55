// batch-reconciler: resumes what stalled and closes what finished. Logic in ../_shared/reconciler.ts.
import { getSql } from "../_shared/db.ts";
import { readEnv } from "../_shared/env.ts";
import { handleReconcilerRequest } from "../_shared/reconciler.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return handleReconcilerRequest(req, { sql: getSql(), env: readEnv });
  },
};
