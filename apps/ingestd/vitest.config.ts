import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "ingestd",
    include: ["test/**/*.test.ts"],
    // The tests run the built CLI as child processes and measure lock hand-overs.
    fileParallelism: false,
    testTimeout: 90_000,
  },
});
