// What a simulated provider ("kind", one per model) is: its limits (requests and tokens, each over
// a fixed or sliding window of 1, 10 or 60 s, stated per minute as OpenAI states them), which
// rate-limit headers it sends, the traffic other clients of the same key send, a capacity past
// which calls queue, and its latency and completion lengths.
import { z } from "zod";

const windowLimitSchema = z.strictObject({
  mode: z.enum(["fixed", "sliding"]),
  windowSeconds: z.number().positive(),
  /** The stated limit, per minute; the window allows perMinute × windowSeconds / 60. */
  perMinute: z.number().positive(),
});

export const kindSchema = z.strictObject({
  requests: windowLimitSchema.optional(),
  tokens: windowLimitSchema.optional(),
  /** none: no rate-limit header ever (not even retry-after); on429: only a 429 carries them; always. */
  headers: z.enum(["none", "on429", "always"]),
  /** Other clients on the same key take this share of the request limit, steadily. */
  background: z.strictObject({ share: z.number().min(0).max(0.9) }).optional(),
  /** Calls served at once; more wait in a FIFO queue (a self-hosted server with no limit). */
  capacity: z.number().int().positive().optional(),
  latency: z.strictObject({
    medianMs: z.number().nonnegative(),
    sigma: z.number().nonnegative(),
    /** Service time grows by this fraction per call in flight at admission. */
    loadSlope: z.number().nonnegative().default(0),
    /** A share of calls takes minMs..maxMs instead (uniform). */
    tail: z.strictObject({ share: z.number().min(0).max(1), minMs: z.number().nonnegative(), maxMs: z.number().nonnegative() }).optional(),
  }),
  completion: z.strictObject({ medianTokens: z.number().positive(), sigma: z.number().nonnegative(), maxTokens: z.number().int().positive() }),
});

export type KindSpec = z.input<typeof kindSchema>;
export type Kind = z.output<typeof kindSchema>;
export type WindowLimit = z.output<typeof windowLimitSchema>;

export const simConfigSchema = z.strictObject({
  seed: z.number().int(),
  kinds: z.record(z.string(), kindSchema),
});
export type SimConfig = z.input<typeof simConfigSchema>;

/** Units a window of this limit allows (an integer: the stated per-minute limit must divide). */
export function perWindow(limit: WindowLimit): number {
  const n = (limit.perMinute * limit.windowSeconds) / 60;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${limit.perMinute}/min over ${limit.windowSeconds} s windows is ${n} per window: choose a multiple of ${60 / limit.windowSeconds}`);
  }
  return n;
}

export function checkKind(name: string, kind: Kind): void {
  for (const l of [kind.requests, kind.tokens]) if (l) perWindow(l);
  if (kind.background && !kind.requests) throw new Error(`${name}: background traffic needs a request limit to take a share of`);
}
