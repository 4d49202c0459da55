// Which provider configurations daybreak acts on. public.providers names the environment variable
// holding a provider's key and where its calls go; a row that named SUPABASE_DB_URL or CRON_SECRET
// as the "key" would have the processor send the database password or the cron secret to any host.
// The same rules are CHECK constraints on public.providers; they are checked again here, before a
// key is read or a call is sent, so a row that got past them changes nothing.

/** A provider key variable: ends in _API_KEY, and is none of the platform's or daybreak's own. */
const KEY_VARIABLE = /^[A-Z][A-Z0-9_]*_API_KEY$/;
const RESERVED_PREFIX = /^(SUPABASE|CRON|DAYBREAK)_/;
/** Plain http only to this machine (a local model server, the local stack's mock); https otherwise. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Why a key variable name is refused, or null when it is a provider key variable. */
export function keyVariableProblem(name: string): string | null {
  if (!KEY_VARIABLE.test(name)) return `api_key_env ${JSON.stringify(name)} is not a provider key variable (it must end in _API_KEY)`;
  if (RESERVED_PREFIX.test(name)) return `api_key_env ${JSON.stringify(name)} is reserved (SUPABASE_, CRON_ and DAYBREAK_ variables are never sent to a provider)`;
  return null;
}

/** Why a base URL is refused, or null when calls may go there. */
export function baseUrlProblem(baseUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return `base_url ${JSON.stringify(baseUrl)} is not a URL`;
  }
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname) && url.username === "" && url.password === "") return null;
  return `base_url ${JSON.stringify(baseUrl)} must be https:// (http:// only to 127.0.0.1, localhost or [::1])`;
}
