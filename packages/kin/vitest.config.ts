import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "kin",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 5 },
    include: ["test/**/*.test.ts"],
    // The simulated nodes are in-process HTTP servers; one file at a time keeps timing honest on two cores.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["test/global-setup.ts"],
  },
});
