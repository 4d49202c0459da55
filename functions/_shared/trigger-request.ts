// The one place the trigger's input is validated: a strict zod schema (unknown keys rejected).
import { z } from "zod";

export const triggerRequestSchema = z
  .object({
    force: z.boolean().optional(),
    manual_test: z.boolean().optional(),
    schedule: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "schedule must be a schedule name like daily-batch").optional(),
    run_key: z.string().regex(/^\d{4}-(\d{2}-\d{2}|W\d{2})$/, "run_key must be YYYY-MM-DD (or YYYY-Www for weekly schedules)").optional(),
    note: z.string().max(500, "note is limited to 500 characters").optional(),
    org_id: z.uuid("org_id must be an organization's UUID").optional(),
  })
  .strict();

export type TriggerRequest = z.infer<typeof triggerRequestSchema>;

export interface ValidationDetail {
  path: (string | number)[];
  message: string;
}

export function zodDetails(error: z.ZodError): ValidationDetail[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    message: issue.message,
  }));
}
