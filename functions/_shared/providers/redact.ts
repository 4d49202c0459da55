// A provider's error body is stored (batch_tasks.last_error, provider_run_stats.quota_reason) and
// shown (the status page, scripts/status). A gateway that echoes the key it was sent ("Incorrect
// API key provided: sk-...") would put the key there: the key, and anything shaped like a bearer
// token or a known provider key, is replaced before the text leaves the adapter.

export const REDACTED = "[redacted]";

const TOKEN_SHAPES: RegExp[] = [
  /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(sk|rk|pk)-[A-Za-z0-9_-]{8,}/g, // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-) and look-alikes
  /\b(gsk|pplx|xai|sbp|ghp|gho|glpat|hf)[_-][A-Za-z0-9_-]{12,}/g, // Groq, Perplexity, xAI, Supabase, GitHub, GitLab, Hugging Face
  /\bAIza[0-9A-Za-z_-]{30,}/g, // Google
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs (Supabase keys among them)
];
/** "api_key": "value" and the like: the name and separator stay, so the message still says what it was. */
const NAMED_VALUE = /\b(api[_-]?key|access[_-]?token|secret)(["']?\s*[:=]\s*["']?)[A-Za-z0-9._~+/=-]{12,}/gi;

/** text with every known secret value and every token-shaped string replaced by [redacted]. */
export function redactSecrets(text: string, secrets: (string | null | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  for (const shape of TOKEN_SHAPES) out = out.replace(shape, REDACTED);
  return out.replace(NAMED_VALUE, (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`);
}
