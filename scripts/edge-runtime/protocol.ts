// What the supervisor and a worker process say to each other: the worker writes lines that start
// with CONTROL_PREFIX on stdout (everything else there is the function's own log), the supervisor
// writes one JSON object per line on the worker's stdin.

export const CONTROL_PREFIX = "\u0000daybreak-edge:";

export type UnloadReason = "wall_clock" | "cpu" | "memory" | "early_drop";

export type WorkerMessage =
  | { event: "ready"; port: number; heapBytes: number }
  /** EdgeRuntime.waitUntil promises not settled yet. */
  | { event: "pending"; count: number };

export interface SupervisorMessage {
  drain?: true;
  beforeunload?: UnloadReason;
  exit?: true;
}
