// The simulator's seeded randomness, keyed on the call rather than on arrival order: a call's
// latency, tail and completion length follow from (seed, model, prompt, region, attempt), so the
// same task costs the same whether daybreak or a peer sends it, in whatever order.
import { createHash } from "node:crypto";
import type { Kind } from "./kinds.ts";

/** splitmix32 over a 32-bit state: uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

export function callSeed(seed: number, model: string, prompt: string, region: string, attempt: number): number {
  const digest = createHash("sha1").update(`${seed}\u0000${model}\u0000${region}\u0000${attempt}\u0000`).update(prompt).digest();
  return digest.readUInt32LE(0);
}

function standardNormal(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface CallDraw {
  /** Service time before load: log-normal, or the tail's. */
  serviceMs: number;
  tail: boolean;
  /** Completion tokens the answer would have without a max_tokens cap. */
  completionTokens: number;
}

export function drawCall(kind: Kind, random: () => number): CallDraw {
  const l = kind.latency;
  const tail = l.tail !== undefined && random() < l.tail.share;
  const base = l.medianMs * Math.exp(l.sigma * standardNormal(random));
  const serviceMs = tail ? l.tail!.minMs + random() * (l.tail!.maxMs - l.tail!.minMs) : base;
  const c = kind.completion;
  const completionTokens = Math.max(1, Math.min(c.maxTokens, Math.round(c.medianTokens * Math.exp(c.sigma * standardNormal(random)))));
  return { serviceMs, tail, completionTokens };
}

/** Tokens a prompt costs: about four characters a token, as OpenAI's estimate goes. */
export function promptTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Service time at admission: the draw, slowed by the calls already in flight (not for the tail). */
export function loadedServiceMs(kind: Kind, draw: CallDraw, inFlight: number): number {
  return Math.round(draw.tail ? draw.serviceMs : draw.serviceMs * (1 + kind.latency.loadSlope * inFlight));
}
