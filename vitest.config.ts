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
    // One file at a time: the global log shows an event only once every older
    // transaction on the server has ended, and all files share one server, so
    // a file's long transactions would delay what another file's readers see.
    fileParallelism: false,
  },
});
