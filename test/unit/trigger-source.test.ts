import { describe, expect, it } from "vitest";
import { detectTriggerSource } from "../../functions/_shared/trigger-source.ts";

const detect = (h: Record<string, string>) => detectTriggerSource(new Headers(h));

describe("detectTriggerSource", () => {
  it("prefers a valid x-trigger-source header", () => {
    expect(detect({ "x-trigger-source": "reconciler", "x-manual-call": "true" })).toBe("reconciler");
    expect(detect({ "x-trigger-source": "bogus", "x-manual-call": "true" })).toBe("manual");
  });
  it("labels x-manual-call: true as manual", () => {
    expect(detect({ "x-manual-call": "true", "user-agent": "pg_net/0.19" })).toBe("manual");
    expect(detect({ "x-manual-call": "false", "user-agent": "pg_net/0.19" })).toBe("cron");
  });
  it("recognises GitHub Actions by user agent or run id", () => {
    expect(detect({ "user-agent": "GitHub-Actions/daily" })).toBe("github_actions");
    expect(detect({ "user-agent": "curl/8.5", "x-github-run-id": "123" })).toBe("github_actions");
  });
  it("recognises pg_net as cron, anything else as api", () => {
    expect(detect({ "user-agent": "pg_net/0.19.5" })).toBe("cron");
    expect(detect({ "user-agent": "curl/8.5" })).toBe("api");
    expect(detect({})).toBe("api");
  });
});
