import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { repoRoot } from "./workspace.js";

// Biome in CI mode: formatting and lint rules over the whole repo, never writing anything.
it("passes biome's format and lint checks", async () => {
  const biome = join(repoRoot, "node_modules", ".bin", "biome");
  const result = await promisify(execFile)(biome, ["ci", "--colors=off", "."], {
    cwd: repoRoot,
    maxBuffer: 16 << 20,
  }).then(
    () => ({ code: 0, output: "" }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      output: `${error.stdout ?? ""}${error.stderr ?? ""}`,
    }),
  );
  expect(result.output.slice(0, 4000)).toBe("");
  expect(result.code).toBe(0);
}, 60_000);
