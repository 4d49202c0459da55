// Function secrets: `POST /v1/projects/{ref}/secrets` [{name, value}], `DELETE` ["NAME"], and
// `GET` (names with a digest of each value, never the value, as hosted answers).
import { createHash } from "node:crypto";
import { z } from "zod";
import { HttpError } from "./http.ts";

const NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "secret names are letters, digits and _");
const setBody = z.array(z.object({ name: NAME, value: z.string() }).strict()).min(1);
const unsetBody = z.array(NAME).min(1);

export class SecretStore {
  readonly values = new Map<string, string>();

  set(body: unknown): void {
    const parsed = setBody.safeParse(body);
    if (!parsed.success) throw new HttpError(400, `invalid secrets: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    // Hosted reserves the SUPABASE_ prefix for the values it injects itself.
    const reserved = parsed.data.filter((s) => s.name.startsWith("SUPABASE_")).map((s) => s.name);
    if (reserved.length > 0) throw new HttpError(400, `Env var name cannot start with SUPABASE_: ${reserved.join(", ")}`);
    for (const { name, value } of parsed.data) this.values.set(name, value);
  }

  unset(body: unknown): void {
    const parsed = unsetBody.safeParse(body);
    if (!parsed.success) throw new HttpError(400, "expected a JSON array of secret names");
    for (const name of parsed.data) this.values.delete(name);
  }

  list(): { name: string; value: string }[] {
    return [...this.values].map(([name, value]) => ({ name, value: createHash("sha256").update(value).digest("hex") }));
  }
}
