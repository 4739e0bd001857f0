import { defineConfig } from "vitest/config";

// One vitest run for the whole repo (scripts/test.sh). Each workspace package that has tests keeps
// its own vitest.config.ts (defineProject with a `name`); globbing the config files rather than the
// directories means packages without tests are simply not projects.
export default defineConfig({
  test: {
    projects: [
      "packages/*/vitest.config.{ts,mts,js,mjs}",
      "apps/*/vitest.config.{ts,mts,js,mjs}",
      "tools/*/vitest.config.{ts,mts,js,mjs}",
      "test/vitest.config.ts",
    ],
  },
});
