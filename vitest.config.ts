import { defineConfig } from "vitest/config";

// Files run one at a time: sql and e2e suites share one real cluster (pg_cron only runs in one
// database), and each resets the tables it uses before it starts.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
    globalSetup: ["test/global-setup.ts"],
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { extends: true, test: { name: "sql", include: ["test/sql/**/*.test.ts"] } },
      { extends: true, test: { name: "e2e", include: ["test/e2e/**/*.test.ts"] } },
    ],
  },
});
