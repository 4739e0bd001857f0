import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "conformance",
    include: ["test/**/*.test.ts"],
    // Lock suites measure time; running files side by side on two cores would only add noise.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
