// Release readiness, run by `pnpm release:dry-run` (and so by CI).
// `changeset status` compares against the base branch, so on main itself (where CI runs) it has no
// changed packages to complain about. It still validates the config and every changeset file, and we
// add the check that matters on main: every publishable package either has a CHANGELOG.md (it has been
// versioned before) or is named in a pending changeset (its first release gets real notes).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const changeset = (args) =>
  spawnSync("pnpm", ["exec", "changeset", "status", ...args], { cwd: root, stdio: "inherit" });

if (changeset([]).status !== 0) process.exit(1);

const tmp = mkdtempSync(join(tmpdir(), "tidemark-changesets-"));
const planFile = join(tmp, "plan.json");
const res = changeset(["--output", planFile]);
const plan = res.status === 0 ? JSON.parse(readFileSync(planFile, "utf8")) : null;
rmSync(tmp, { recursive: true, force: true });
if (!plan) process.exit(1);

const named = new Set(plan.changesets.flatMap((c) => c.releases.map((r) => r.name)));
const missing = [];
for (const folder of ["packages", "apps"]) {
  const base = join(root, folder);
  if (!existsSync(base)) continue;
  for (const dir of readdirSync(base)) {
    const manifestPath = join(base, dir, "package.json");
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    if (manifest.private === true) continue;
    if (!named.has(manifest.name) && !existsSync(join(base, dir, "CHANGELOG.md"))) {
      missing.push(`${manifest.name} (${folder}/${dir})`);
    }
  }
}
if (missing.length > 0) {
  console.error(
    `These packages have neither a CHANGELOG.md nor a pending changeset; add one with \`pnpm changeset\`:\n  ${missing.join("\n  ")}`,
  );
  process.exit(1);
}
console.log(`changesets: ${named.size} package(s) named in ${plan.changesets.length} pending changeset(s); ok`);
