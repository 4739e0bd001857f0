import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "postgres",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 9 },
    include: ["test/**/*.test.ts"],
    // Starts one PostgreSQL (or checks POSTGRES_URL) and provides its URL; fails the run if it cannot.
    globalSetup: ["./test/global-setup.ts"],
    // Lock tests measure time against one shared server: files side by side on two cores would only add noise.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
