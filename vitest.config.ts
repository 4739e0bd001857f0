import { defineConfig } from "vitest/config";

// One vitest run for the whole repo (scripts/test.sh). Each workspace package that has tests keeps
// its own vitest.config.ts (defineProject with a `name`); globbing the config files rather than the
// directories means packages without tests are simply not projects.
//
// Projects run one after another, never side by side: each sets its own `sequence.groupOrder` (a new
// project needs one too, or it shares the first slot, or with `fileParallelism: false` the last one,
// with any other project that lacks it). Many tests measure lock hand-overs in milliseconds, and on
// a 2-core machine a neighbour's JVM or `tsc` skews them. The order:
//   1 core, 2 conformance, 3 sqlite, 4 test-servers, 5 kin: in-process, the tightest timings;
//   6 etcd, 7 dynamodb, 8 mongodb, 9 postgres: one shared server each (DynamoDB Local and
//     mongo-java-server are JVMs), so a JVM's JIT and GC tail never spills into the in-process projects;
//   10 ingestd: spawns its CLI and its own etcd, DynamoDB Local, mongo-java-server and PostgreSQL;
//   11 repo: packs, installs and type-checks (CPU-heavy, no timing bounds), last.
// Within a project, files run one at a time where its config says `fileParallelism: false`. The
// global setups still start every project's server before the first file; idle, they use about
// 1% of a core.
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
