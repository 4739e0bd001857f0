import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "conformance",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 2 },
    include: ["test/**/*.test.ts"],
    // Lock suites measure time; running files side by side on two cores would only add noise.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
