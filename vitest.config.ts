import { defineConfig } from "vitest/config";

// One vitest run over every workspace. Tests that need PostgreSQL share one
// embedded server started by the global setup (see platform/test/global-setup.ts).
export default defineConfig({
  test: {
    include: ["{contracts,event-store,command-side,projections,query-side,platform}/test/**/*.test.ts"],
    globalSetup: ["platform/test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
