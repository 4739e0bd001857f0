import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "test-servers",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 4 },
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
