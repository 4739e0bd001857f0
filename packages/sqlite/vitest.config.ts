import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "sqlite",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 3 },
    include: ["test/**/*.test.ts"],
    // Lock tests measure time and spawn processes; one file at a time keeps them honest on two cores.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
