import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "ingestd",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 10 },
    include: ["test/**/*.test.ts"],
    // The tests run the built CLI as child processes and measure lock hand-overs.
    fileParallelism: false,
    testTimeout: 90_000,
  },
});
