// health: proves the stack end to end (Deno → Postgres) and reports pg_cron and migrations.
import { checkHealth } from "../_shared/health.ts";
import { authenticate } from "../_shared/auth.ts";
import { json } from "../_shared/http.ts";

export default {
  async fetch(req: Request): Promise<Response> {
    const auth = authenticate(req.headers);
    if (!auth.ok) return json(auth.status, { error: auth.error });
    try {
      return json(200, await checkHealth());
    } catch (error) {
      console.error("health check failed:", (error as Error).message);
      return json(500, { ok: false, error: "database_unreachable" });
    }
  },
};
