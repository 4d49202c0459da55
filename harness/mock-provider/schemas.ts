// The shapes the mock accepts: chat completion bodies and its control routes' bodies.
import { z } from "zod";

export const faultRuleSchema = z.strictObject({
  model: z.string().optional(),
  taskId: z.string().optional(),
  status: z.union([z.literal(429), z.literal(500), z.literal(503), z.literal(400), z.literal(401)]).optional(),
  echoKey: z.boolean().optional(),
  bodyBytes: z.number().int().positive().optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  hang: z.boolean().optional(),
  latencyMs: z.number().int().nonnegative().optional(),
  slowBodyMs: z.number().int().positive().optional(),
  times: z.number().int().positive().optional(),
});

export const rulesBodySchema = z.strictObject({
  rules: z.array(faultRuleSchema),
  latencyMs: z.number().int().nonnegative().optional(),
  slowBodyMs: z.number().int().positive().optional(),
});

export const modelLimitsSchema = z.strictObject({
  requestsPerMinute: z.number().positive().optional(),
  tokensPerMinute: z.number().positive().optional(),
  burstSeconds: z.number().positive().optional(),
  headers: z.enum(["openai", "anthropic", "none"]).optional(),
  quotaExhausted: z.boolean().optional(),
});

export const configBodySchema = z.strictObject({
  limits: z.record(z.string(), modelLimitsSchema).optional(),
  latency: z.strictObject({ medianMs: z.number().nonnegative(), sigma: z.number().nonnegative() }).nullable().optional(),
  latencyMs: z.number().int().nonnegative().optional(),
  slowBodyMs: z.number().int().positive().optional(),
  seed: z.number().int().optional(),
});

export const QUOTA_BODY = {
  error: {
    message: "You exceeded your current quota, please check your plan and billing details.",
    type: "insufficient_quota",
    code: "insufficient_quota",
  },
};

export const chatBodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1),
});
