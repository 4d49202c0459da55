// Who called: recorded on every invocation so "who triggered the second run?" has an answer.
// Every row used to say "cron"; now each source is told apart. A label only: never a credential.
import { TRIGGER_SOURCES, type TriggerSource } from "./constants.ts";

const GITHUB_ACTIONS_USER_AGENT = /github[-_ ]?actions/i;
const PG_NET_USER_AGENT = /^pg_net\//i;

export function isManualCall(headers: Headers): boolean {
  return headers.get("x-manual-call")?.trim().toLowerCase() === "true";
}

export function detectTriggerSource(headers: Headers): TriggerSource {
  const declared = headers.get("x-trigger-source")?.trim().toLowerCase();
  if (declared && (TRIGGER_SOURCES as readonly string[]).includes(declared)) return declared as TriggerSource;
  if (isManualCall(headers)) return "manual";
  const userAgent = headers.get("user-agent") ?? "";
  if (GITHUB_ACTIONS_USER_AGENT.test(userAgent) || headers.has("x-github-run-id")) return "github_actions";
  if (PG_NET_USER_AGENT.test(userAgent)) return "cron";
  return "api";
}
