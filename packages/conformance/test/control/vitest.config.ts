import { defineConfig } from "vitest/config";

// Run only by control.test.ts, which expects these tests to fail.
export default defineConfig({
  test: {
    root: new URL(".", import.meta.url).pathname,
    include: ["*.suite.ts"],
    testTimeout: 20_000,
  },
});
