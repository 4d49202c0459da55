// Names shared by the functions: trigger sources (the same strings as the SQL check constraints),
// the functions themselves, and the trigger's limits.

export const TRIGGER_SOURCES = Object.freeze(["cron", "manual", "github_actions", "reconciler", "api"] as const);
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];

export const FUNCTION_NAMES = Object.freeze({
  trigger: "daily-batch-trigger",
  processor: "robust-batch-processor",
  reconciler: "batch-reconciler",
  suggestions: "weekly-suggestions",
} as const);

export const DEFAULT_SCHEDULE = "daily-batch";
export const MAX_TRIGGER_BODY_BYTES = 16 * 1024;
export const MAX_BACKFILL_DAYS = 30;
