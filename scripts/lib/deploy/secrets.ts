// Secrets inside generated text and output: a SecretPart is written as its value and printed as
// ****, and every secret value is masked in anything a child process prints.
export const MASK = "****";

/** A secret inside generated text: printed as ****, written as its value. */
export interface SecretPart {
  secret: string;
}
export type Part = string | SecretPart;

export function maskParts(parts: Part[]): string {
  return parts.map((p) => (typeof p === "string" ? p : MASK)).join("");
}

export function unmaskParts(parts: Part[]): string {
  return parts.map((p) => (typeof p === "string" ? p : p.secret)).join("");
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  return out;
}

/** Copies a child's output line by line with every secret masked (whole lines, so a secret split
 * across two chunks is still found). */
export function pipeRedacted(from: NodeJS.ReadableStream, to: NodeJS.WriteStream, secrets: string[]): Promise<void> {
  return new Promise((resolve) => {
    let pending = "";
    from.setEncoding("utf8");
    from.on("data", (chunk: string) => {
      pending += chunk;
      const end = pending.lastIndexOf("\n");
      if (end === -1) return;
      to.write(redact(pending.slice(0, end + 1), secrets));
      pending = pending.slice(end + 1);
    });
    from.on("end", () => {
      if (pending) to.write(redact(pending, secrets));
      resolve();
    });
  });
}
