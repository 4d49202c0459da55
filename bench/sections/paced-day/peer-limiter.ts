// What a competent user of pg-boss or graphile-worker puts in front of a rate-limited provider: a
// client-side limiter per provider in their process (Bottleneck), configured from the provider's
// stated limits: requests spaced evenly at the stated requests per minute (minTime), and, when
// tokens are limited, a token reservoir refilled at the stated tokens per minute with a second's
// worth of burst, each call weighing its estimated tokens (prompt chars ÷ 4 + a guessed 300 for
// the answer). A 429 is waited out (retry-after, else backoff) and goes through the limiter again.
import Bottleneck from "bottleneck";
import { callChatCompletion, ProviderError, type ProviderConfig } from "../../../functions/_shared/providers/openai-compatible.ts";
import type { Kind } from "../../sim/kinds.ts";
import { sleep } from "../../lib/stats.ts";

/** The user's guess at an answer's length, for the token weight. */
export const GUESSED_COMPLETION_TOKENS = 300;
const MAX_ATTEMPTS = 30;

export interface PeerLimiter {
  call(prompt: string, taskId: string): Promise<void>;
  stop(): Promise<void>;
}

export function estimatedTokens(prompt: string): number {
  return Math.ceil(prompt.length / 4) + GUESSED_COMPLETION_TOKENS;
}

export function peerLimiter(config: ProviderConfig, kind: Kind, largestWeight: number): PeerLimiter {
  const requests = new Bottleneck({ maxConcurrent: null, minTime: kind.requests ? 60_000 / kind.requests.perMinute : 0 });
  let tokens: Bottleneck | null = null;
  if (kind.tokens) {
    const perSecond = kind.tokens.perMinute / 60;
    const max = Math.max(Math.ceil(perSecond), largestWeight);
    tokens = new Bottleneck({
      maxConcurrent: null, reservoir: max,
      reservoirIncreaseInterval: 250, reservoirIncreaseAmount: Math.ceil(perSecond / 4), reservoirIncreaseMaximum: max,
    });
    // The token gate first, then the even spacing, so what leaves the reservoir is still spaced.
    tokens.chain(requests);
  }
  const entry = tokens ?? requests;
  return {
    async call(prompt, taskId) {
      for (let attempt = 1; ; attempt++) {
        try {
          await entry.schedule({ weight: tokens ? estimatedTokens(prompt) : 1 }, () =>
            callChatCompletion(config, { taskId, prompt, region: "global" }));
          return;
        } catch (error) {
          if (!(error instanceof ProviderError) || !error.retryable || attempt >= MAX_ATTEMPTS) throw error;
          await sleep(error.retryAfterMs ?? Math.min(30_000, 500 * 2 ** attempt));
        }
      }
    },
    async stop() {
      await Promise.all([requests.stop({ dropWaitingJobs: true }), tokens?.stop({ dropWaitingJobs: true })]);
    },
  };
}
