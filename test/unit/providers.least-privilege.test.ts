// The provider adapter's own checks, independent of the table's: a row naming a secret as its key
// or a plain-http remote host gets no key read and no call sent; an error body's keys and tokens
// are redacted before they can be stored; an answer is read only up to 4 MiB.
import { describe, expect, it } from "vitest";
import { MAX_RESPONSE_BYTES, readBoundedText, ResponseTooLarge } from "../../functions/_shared/providers/bounded-body.ts";
import { callChatCompletion, ProviderError } from "../../functions/_shared/providers/openai-compatible.ts";
import { baseUrlProblem, keyVariableProblem } from "../../functions/_shared/providers/provider-policy.ts";
import { redactSecrets } from "../../functions/_shared/providers/redact.ts";
import { rejection, request } from "../helpers/provider-fixtures.ts";

/** A fetch that records whether it was called at all. */
function recordingFetch(answer: () => Response = () => new Response("{}")) {
  const seen: { url: string; authorization: string | null }[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(url), authorization: new Headers(init?.headers).get("authorization") });
    return answer();
  }) as typeof globalThis.fetch;
  return { seen, fetch };
}

const config = (apiKeyEnv: string | null, baseUrl = "https://api.example.com/v1") =>
  ({ name: "p", baseUrl, model: "m", apiKeyEnv, timeoutMs: 5000, fallbackProvider: null, maxTokens: null });

const env = (name: string) => ({ SUPABASE_DB_URL: "postgresql://postgres:db-password@db/postgres", CRON_SECRET: "c".repeat(40),
  OPENAI_API_KEY: "sk-live-0123456789abcdef" } as Record<string, string>)[name];

describe("the adapter refuses a provider row that could leak a secret", () => {
  it("never reads or sends a variable that is not a provider key", async () => {
    for (const name of ["SUPABASE_DB_URL", "CRON_SECRET", "DAYBREAK_METRICS_TOKEN", "DAYBREAK_X_API_KEY", "HOME"]) {
      const { seen, fetch } = recordingFetch();
      const error = await rejection(callChatCompletion(config(name), request, { env, fetch }));
      expect(error, name).toMatchObject({ kind: "config", retryable: false });
      expect(error.message).not.toContain("db-password");
      expect(seen, name).toEqual([]);
    }
    const { seen, fetch } = recordingFetch(() => new Response(JSON.stringify({ model: "m", choices: [{ message: { content: "ok" } }] })));
    await callChatCompletion(config("OPENAI_API_KEY"), request, { env, fetch });
    expect(seen).toEqual([{ url: "https://api.example.com/v1/chat/completions", authorization: "Bearer sk-live-0123456789abcdef" }]);
  });

  it("never sends a key in plain http to another host", async () => {
    for (const url of ["http://evil.example/v1", "http://127.0.0.1.nip.io/v1", "http://user:pw@localhost/v1", "ftp://x/v1"]) {
      const { seen, fetch } = recordingFetch();
      await expect(callChatCompletion(config("OPENAI_API_KEY", url), request, { env, fetch }), url).rejects.toBeInstanceOf(ProviderError);
      expect(seen, url).toEqual([]);
    }
    expect(baseUrlProblem("http://localhost:54330/v1")).toBeNull();
    expect(baseUrlProblem("http://[::1]:8000")).toBeNull();
    expect(keyVariableProblem("GROQ_API_KEY")).toBeNull();
  });
});

describe("redactSecrets", () => {
  it("replaces the key that was sent and anything shaped like a token, keeping the message readable", () => {
    const key = "plain-looking-key-4711";
    const text = `Incorrect API key provided: ${key}. Also Bearer abc.def.ghi-0123456789 and sk-proj-AbCdEf0123456789xyz, `
      + `gsk_0123456789abcdefghij, api_key="zzzzzzzzzzzzzzzz" and eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJlMDEyMzQ1`;
    const out = redactSecrets(text, [key]);
    for (const secret of [key, "abc.def.ghi-0123456789", "sk-proj-AbCdEf0123456789xyz", "gsk_0123456789abcdefghij", "zzzzzzzzzzzzzzzz", "eyJhbGciOiJIUzI1NiJ9"]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toMatch(/^Incorrect API key provided: \[redacted\]\./);
    expect(out).toContain('api_key="[redacted]');
    expect(redactSecrets("rate limited (HTTP 429): please retry in 20ms, request req_8f3a2b")).toBe("rate limited (HTTP 429): please retry in 20ms, request req_8f3a2b");
  });

  it("is applied to a provider's error body before it becomes the error message", async () => {
    const { fetch } = recordingFetch(() => new Response(JSON.stringify({ error: { message: "Incorrect API key provided: sk-live-0123456789abcdef" } }), { status: 401 }));
    const error = await rejection(callChatCompletion(config("OPENAI_API_KEY"), request, { env, fetch }));
    expect(error.message).not.toContain("sk-live-0123456789abcdef");
    expect(error.message).toContain("[redacted]");
  });
});

describe("bounded reads", () => {
  const streamOf = (bytes: number, chunk = 64 * 1024) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= bytes) return controller.close();
        const n = Math.min(chunk, bytes - sent);
        sent += n;
        controller.enqueue(new Uint8Array(n).fill(0x61));
      },
    });
  };

  it("reads up to 4 MiB and refuses more, declared or streamed", async () => {
    expect((await readBoundedText(new Response(streamOf(MAX_RESPONSE_BYTES)))).length).toBe(MAX_RESPONSE_BYTES);
    await expect(readBoundedText(new Response(streamOf(MAX_RESPONSE_BYTES + 1)))).rejects.toBeInstanceOf(ResponseTooLarge);
    const declared = new Response("small", { headers: { "content-length": String(MAX_RESPONSE_BYTES + 1) } });
    await expect(readBoundedText(declared)).rejects.toBeInstanceOf(ResponseTooLarge);
  });

  it("a call whose answer is over the cap fails with response_too_large, not retryable", async () => {
    const { fetch } = recordingFetch(() => new Response(streamOf(5 * 1024 * 1024)));
    const error = await rejection(callChatCompletion(config(null), request, { fetch }));
    expect(error).toMatchObject({ kind: "response_too_large", retryable: false });
    expect(error.message).toMatch(/response_too_large/);
  });
});
