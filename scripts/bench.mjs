// `pnpm bench`: runs every workspace package's own `bench` script, one after another (benchmarks
// running side by side on a 2-core machine would only measure each other). Packages must be built
// first; the root `bench` script runs `turbo run build` before this. Exits non-zero if any failed.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
// pnpm knows the workspace globs; --depth -1 lists just the projects.
const listed = spawnSync("pnpm", ["ls", "-r", "--depth", "-1", "--json"], { cwd: root, encoding: "utf8" });
if (listed.status !== 0) {
  console.error(listed.stderr || listed.stdout);
  process.exit(1);
}
const projects = JSON.parse(listed.stdout)
  .filter((p) => p.path !== root)
  .map((p) => ({
    name: p.name,
    path: p.path,
    manifest: JSON.parse(readFileSync(join(p.path, "package.json"), "utf8")),
  }))
  .filter((p) => p.manifest.scripts?.bench)
  .sort((a, b) => a.name.localeCompare(b.name));

const failed = [];
for (const { name } of projects) {
  console.log(`\n=== ${name}: pnpm run bench ===`);
  const res = spawnSync("pnpm", ["--filter", name, "run", "bench"], { cwd: root, stdio: "inherit" });
  if (res.status !== 0) failed.push(name);
}
console.log(`\nbench: ${projects.length - failed.length} of ${projects.length} package benchmarks ran`);
if (failed.length > 0) {
  console.error(`bench failed in: ${failed.join(", ")}`);
  process.exit(1);
}
