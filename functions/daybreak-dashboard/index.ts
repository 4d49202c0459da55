// daybreak-dashboard: the status page, its data and Prometheus metrics. Logic in ../_shared/dashboard/.
import { handleDashboardRequest } from "../_shared/dashboard/handler.ts";
import { getSql } from "../_shared/db.ts";
import { readEnv } from "../_shared/env.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return handleDashboardRequest(req, { sql: getSql(), env: readEnv });
  },
};
