// A provider's answer is read with a cap: a broken or hostile endpoint streaming gigabytes must not
// exhaust the worker's memory (256 MB on Supabase), which would kill every other call in flight.

/** The largest answer read, in bytes: chat completions are kilobytes; 4 MiB leaves room for long ones. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export class ResponseTooLarge extends Error {
  constructor(readonly limitBytes: number) {
    super(`response_too_large: the answer is over ${limitBytes} bytes`);
    this.name = "ResponseTooLarge";
  }
}

/** The body as text, or ResponseTooLarge as soon as it passes limitBytes (declared or streamed). */
export async function readBoundedText(res: Response, limitBytes = MAX_RESPONSE_BYTES): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limitBytes) {
    await res.body?.cancel().catch(() => {});
    throw new ResponseTooLarge(limitBytes);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let total = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => {});
      throw new ResponseTooLarge(limitBytes);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}
