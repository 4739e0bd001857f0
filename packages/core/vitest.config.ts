import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "core",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 1 },
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
