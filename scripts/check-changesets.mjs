// Release readiness, run by `pnpm release:dry-run` (and so by CI): `node scripts/check-changesets.mjs [repo root]`
// (the root defaults to this repo; test/release-plan.test.ts points it at a copy).
// It asks Changesets for the release plan (`changeset status`, which also validates the config and every
// changeset file), prints what `changeset version` would publish, and fails when:
//  - a package would get a major bump that no changeset asked for (a dependent bump through a range or a
//    fixed/linked group: widen the range, see .changeset/README.md, or ask for the major in a changeset);
//  - a publishable package has neither a CHANGELOG.md (versioned before) nor a pending changeset (its first
//    release would have no notes).
// `changeset status` compares against the base branch, so on main itself (where CI runs) it has no changed
// packages to complain about.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(process.argv[2] ?? join(import.meta.dirname, ".."));
// This repo's Changesets, whichever repo is checked: a copy under test has no node_modules of its own.
const changesetBin = createRequire(import.meta.url).resolve("@changesets/cli/bin.js");
/** The dependency fields through which a release of one package makes Changesets release another. */
const RELEASING_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];

function fail(message) {
  console.error(message);
  process.exit(1);
}

/** The release plan `changeset version` would apply, or null when Changesets refused (it printed why). */
function releasePlan() {
  const tmp = mkdtempSync(join(tmpdir(), "tidemark-changesets-"));
  try {
    const planFile = join(tmp, "plan.json");
    const res = spawnSync(process.execPath, [changesetBin, "status", "--output", planFile], {
      cwd: root,
      stdio: "inherit",
    });
    return res.status === 0 ? JSON.parse(readFileSync(planFile, "utf8")) : null;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The publishable workspace packages (not private) under packages/ and apps/. */
function publishablePackages() {
  const found = [];
  for (const folder of ["packages", "apps"]) {
    const base = join(root, folder);
    if (!existsSync(base)) continue;
    for (const dir of readdirSync(base)) {
      const manifestPath = join(base, dir, "package.json");
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
      if (manifest.private !== true) found.push({ rel: `${folder}/${dir}`, dir: join(base, dir), manifest });
    }
  }
  return found;
}

const plan = releasePlan();
if (!plan) fail("changeset status failed (see above)");
const packages = publishablePackages();
const releasing = plan.releases.filter((r) => r.type !== "none").sort((a, b) => a.name.localeCompare(b.name));

// What would be published, and why each version moves.
const width = Math.max(0, ...releasing.map((r) => r.name.length));
console.log(
  releasing.length === 0
    ? "release plan: nothing to release"
    : `release plan (\`pnpm changeset version\`, then \`pnpm publish -r\`):\n${releasing
        .map(
          (r) =>
            `  ${r.name.padEnd(width)}  ${r.oldVersion} -> ${r.newVersion}  (${r.type}, ${
              r.changesets.length > 0 ? `changesets: ${r.changesets.join(", ")}` : "no changeset: a dependency moved"
            })`,
        )
        .join("\n")}`,
);

// A major nobody asked for, e.g. Changesets bumping dependents whose range the new version leaves.
const askedMajor = new Set(
  plan.changesets.flatMap((c) => c.releases.filter((r) => r.type === "major").map((r) => r.name)),
);
const releasedNames = new Set(releasing.map((r) => r.name));
const config = JSON.parse(readFileSync(join(root, ".changeset", "config.json"), "utf8"));
const unintended = releasing
  .filter((r) => r.type === "major" && !askedMajor.has(r.name))
  .map((r) => {
    // The likely causes, for the message: released packages it depends on (devDependencies never bump it),
    // and the groups it shares with released packages.
    const manifest = packages.find((p) => p.manifest.name === r.name)?.manifest ?? {};
    const causes = RELEASING_FIELDS.flatMap((field) =>
      Object.keys(manifest[field] ?? {})
        .filter((dep) => releasedNames.has(dep))
        .map((dep) => `takes ${field}.${dep} "${manifest[field][dep]}"`),
    );
    for (const kind of ["fixed", "linked"]) {
      for (const group of config[kind] ?? []) {
        const others = group.filter((name) => name !== r.name && releasedNames.has(name));
        if (group.includes(r.name) && others.length > 0) causes.push(`${kind} with ${others.join(", ")}`);
      }
    }
    return `  ${r.name} ${r.oldVersion} -> ${r.newVersion}${causes.length > 0 ? `: ${causes.join("; ")}` : ""}`;
  });
if (unintended.length > 0) {
  fail(
    `unintended major bump: no changeset asks for a major of\n${unintended.join("\n")}\n` +
      "Changesets would bump it because something it depends on is released (a range the new version leaves, " +
      "or a fixed/linked group). Widen the range (see .changeset/README.md) or, if the break is real, " +
      "add a changeset asking for `major` for that package.",
  );
}

const named = new Set(plan.changesets.flatMap((c) => c.releases.map((r) => r.name)));
const missing = packages
  .filter((p) => !named.has(p.manifest.name) && !existsSync(join(p.dir, "CHANGELOG.md")))
  .map((p) => `${p.manifest.name} (${p.rel})`);
if (missing.length > 0) {
  fail(
    `These packages have neither a CHANGELOG.md nor a pending changeset; add one with \`pnpm changeset\`:\n  ${missing.join("\n  ")}`,
  );
}
console.log(`changesets: ${named.size} package(s) named in ${plan.changesets.length} pending changeset(s); ok`);
