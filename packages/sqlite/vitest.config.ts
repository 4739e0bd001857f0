import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "sqlite",
    include: ["test/**/*.test.ts"],
    // Lock tests measure time and spawn processes; one file at a time keeps them honest on two cores.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
