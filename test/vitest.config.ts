import { defineProject } from "vitest/config";

// Repo-level checks: package manifests, packed tarballs, README snippets. They shell out to
// pnpm/npm/tsc, so they get long timeouts; they need `pnpm turbo run build` first (scripts/test.sh).
export default defineProject({
  test: {
    name: "repo",
    // Its place in the one-project-at-a-time schedule of the root vitest.config.ts.
    sequence: { groupOrder: 11 },
    include: ["**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
