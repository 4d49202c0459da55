// State names, the same strings as the SQL check constraints in supabase/migrations.

export const TRIGGER_SOURCES = Object.freeze(["cron", "manual", "github_actions", "reconciler", "api"] as const);
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];

export const INVOCATION_STATUS = Object.freeze({
  running: "running",
  completed: "completed",
  skipped: "skipped",
  failed: "failed",
} as const);
export type InvocationStatus = (typeof INVOCATION_STATUS)[keyof typeof INVOCATION_STATUS];

export const RUN_STATUS = Object.freeze({
  running: "running",
  completed: "completed",
  completedWithErrors: "completed_with_errors",
  failed: "failed",
  cancelled: "cancelled",
} as const);

export const BATCH_JOB_STATUS = Object.freeze({
  pending: "pending",
  processing: "processing",
  completed: "completed",
  completedWithErrors: "completed_with_errors",
  failed: "failed",
  cancelled: "cancelled",
} as const);

export const TASK_STATUS = Object.freeze({
  pending: "pending",
  processing: "processing",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
} as const);

export const FUNCTION_NAMES = Object.freeze({
  trigger: "daily-batch-trigger",
  processor: "robust-batch-processor",
  reconciler: "batch-reconciler",
} as const);

export const DEFAULT_SCHEDULE = "daily-batch";
export const MAX_TRIGGER_BODY_BYTES = 16 * 1024;
export const MAX_BACKFILL_DAYS = 30;
