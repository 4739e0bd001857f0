import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "mongodb",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 8 },
    include: ["test/**/*.test.ts"],
    // Lock tests measure time and restart servers; one file at a time keeps them honest on two cores.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // Starts mongo-java-server (or uses MONGODB_URI) once and provides its address to every file.
    globalSetup: ["./test/global-setup.ts"],
  },
});
