// The example alert rules: promtool accepts them (when the tool is installed), and every metric
// they use is one the dashboard exports.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "../../scripts/lib/root.ts";
const RULES = path.join(ROOT, "monitoring/prometheus/daybreak-alerts.yml");
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;

describe("monitoring/prometheus/daybreak-alerts.yml", () => {
  it.skipIf(!hasPromtool)("passes promtool check rules", () => {
    const r = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 6 rules found/);
  });

  it("uses only metrics the dashboard exports, and covers the four alerts operators asked for", () => {
    const rules = fs.readFileSync(RULES, "utf8");
    const exported = new Set([...fs.readFileSync(path.join(ROOT, "functions/_shared/dashboard/metrics.ts"), "utf8")
      .matchAll(/name: "(daybreak_[a-z_]+)"/g)].map((m) => m[1]!));
    const used = new Set([...rules.matchAll(/\b(daybreak_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, "")));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) expect(exported.has(name), name).toBe(true);
    for (const alert of ["DaybreakMissedPeriod", "DaybreakStuckBatchJob", "DaybreakDuplicateResultStored", "DaybreakProviderRateLimitedShareHigh"]) {
      expect(rules).toContain(`alert: ${alert}`);
    }
  });
});
