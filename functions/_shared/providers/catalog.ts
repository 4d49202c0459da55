// The provider catalogue (public.providers) as adapter configs.
import type { Sql } from "../db.ts";
import type { ProviderConfig } from "./openai-compatible.ts";

export async function loadProviders(sql: Sql): Promise<Map<string, ProviderConfig>> {
  const rows = await sql<ProviderConfig[]>`
    select name, base_url as "baseUrl", model, api_key_env as "apiKeyEnv", timeout_ms as "timeoutMs",
           fallback_provider as "fallbackProvider", max_tokens as "maxTokens"
      from public.providers where enabled`;
  return new Map(rows.map((r) => [r.name, r]));
}
