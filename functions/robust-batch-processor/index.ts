// robust-batch-processor: works through batch jobs until its time budget. Logic in ../_shared/processor.ts.
import { getSql } from "../_shared/db.ts";
import { readEnv } from "../_shared/env.ts";
import { handleProcessorRequest, processorSettingsFromEnv } from "../_shared/processor.ts";

export default {
  fetch(req: Request): Promise<Response> {
    return handleProcessorRequest(req, { sql: getSql(), env: readEnv, settings: processorSettingsFromEnv() });
  },
};
