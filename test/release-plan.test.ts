// scripts/check-changesets.mjs (the first half of `pnpm release:dry-run`, run by CI) on this repo, and on
// copies of its manifests and changesets in temporary git repositories, with the real Changesets CLI: the
// first release is 0.1.0 everywhere, a core minor afterwards re-releases no adapter, and a major nobody asked
// for fails the check.
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORE_PEER_RANGE, type Manifest, publishablePackages, repoRoot, run, workspacePackages } from "./workspace.js";

const script = join(repoRoot, "scripts", "check-changesets.mjs");
const changesetBin = join(repoRoot, "node_modules", "@changesets", "cli", "bin.js");
const publishable = publishablePackages();
const adapters = publishable.filter((p) => p.rel.startsWith("packages/") && p.dirName !== "core");
const copies: string[] = [];

afterAll(async () => {
  await Promise.all(copies.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function check(root?: string) {
  return run(process.execPath, [script, ...(root ? [root] : [])], { cwd: repoRoot });
}

async function git(cwd: string, ...args: string[]) {
  const res = await run(
    "git",
    ["-c", "user.name=tidemark-test", "-c", "user.email=test@tidemark.invalid", "-c", "commit.gpgsign=false", ...args],
    { cwd },
  );
  expect(res.code, `git ${args.join(" ")}:\n${res.stderr}`).toBe(0);
}

async function commitAll(cwd: string, message: string) {
  await git(cwd, "add", "-A");
  await git(cwd, "commit", "-q", "-m", message);
}

/** What Changesets reads (workspace, every manifest, .changeset/), committed on `main` in a temporary repo. */
async function copyRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tidemark-release-"));
  copies.push(dir);
  for (const file of ["package.json", "pnpm-workspace.yaml"]) await cp(join(repoRoot, file), join(dir, file));
  await cp(join(repoRoot, ".changeset"), join(dir, ".changeset"), { recursive: true });
  for (const pkg of workspacePackages("packages", "apps", "tools")) {
    await mkdir(join(dir, pkg.rel), { recursive: true });
    await cp(join(pkg.dir, "package.json"), join(dir, pkg.rel, "package.json"));
  }
  // `changeset version` loads the changelog generator named in config.json from the repo's node_modules.
  await symlink(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  await writeFile(join(dir, ".gitignore"), "node_modules\n");
  await git(dir, "init", "-q", "-b", "main");
  await commitAll(dir, "copy");
  return dir;
}

/** A copy after the first release: `changeset version` applied and committed. */
async function releasedCopy(): Promise<string> {
  const dir = await copyRepo();
  const res = await run(process.execPath, [changesetBin, "version"], { cwd: dir });
  expect(res.code, `changeset version:\n${res.stdout}${res.stderr}`).toBe(0);
  await commitAll(dir, "version packages");
  return dir;
}

async function addChangeset(dir: string, id: string, releases: Record<string, "major" | "minor" | "patch">) {
  const frontmatter = Object.entries(releases).map(([name, type]) => `"${name}": ${type}`);
  await writeFile(join(dir, ".changeset", `${id}.md`), `---\n${frontmatter.join("\n")}\n---\n\n${id}\n`);
  await commitAll(dir, id);
}

async function manifestIn(dir: string, rel: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, rel, "package.json"), "utf8")) as Manifest;
}

/** The plan line of a package, e.g. "@tidemark/core 0.1.0 -> 0.2.0 (minor, ...)", with the padding squeezed. */
function planLine(stdout: string, name: string): string | undefined {
  return stdout
    .split("\n")
    .map((line) => line.trim().replace(/\s+/g, " "))
    .find((line) => line.startsWith(`${name} `) && line.includes(" -> "));
}

describe("scripts/check-changesets.mjs", () => {
  it("passes on this repo and prints what it would publish", async () => {
    const res = await check();
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/^release plan/m);
  });

  it("plans the first release at 0.1.0 for every published package", async () => {
    const res = await check(await copyRepo());
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    for (const pkg of publishable) {
      expect(planLine(res.stdout, pkg.manifest.name), pkg.manifest.name).toMatch(/ 0\.0\.0 -> 0\.1\.0 \(minor,/);
    }
  });

  it("after the first release, re-releases no adapter for a core minor, and keeps their core peer range", async () => {
    const dir = await releasedCopy();
    for (const pkg of adapters) {
      const manifest = await manifestIn(dir, pkg.rel);
      expect(manifest.version, pkg.rel).toBe("0.1.0");
      expect(manifest.peerDependencies?.["@tidemark/core"], pkg.rel).toBe(CORE_PEER_RANGE);
    }
    await addChangeset(dir, "core-next", { "@tidemark/core": "minor" });
    const res = await check(dir);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(planLine(res.stdout, "@tidemark/core")).toMatch(/ 0\.1\.0 -> 0\.2\.0 \(minor,/);
    for (const pkg of adapters) expect(planLine(res.stdout, pkg.manifest.name), pkg.rel).toBeUndefined();
  });

  it("fails on a major no changeset asked for, and passes once one does", async () => {
    const dir = await releasedCopy();
    // A core major leaves the adapters' peer range, so Changesets releases them as dependents; linking etcd to
    // core turns that dependent bump into a major.
    const configPath = join(dir, ".changeset", "config.json");
    const config = JSON.parse(await readFile(configPath, "utf8")) as { linked: string[][] };
    config.linked = [["@tidemark/core", "@tidemark/etcd"]];
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
    await addChangeset(dir, "core-major", { "@tidemark/core": "major" });

    const failed = await check(dir);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("unintended major bump");
    expect(failed.stderr).toContain(
      `@tidemark/etcd 0.1.0 -> 1.0.0: takes peerDependencies.@tidemark/core "${CORE_PEER_RANGE}"; linked with @tidemark/core`,
    );
    expect(failed.stderr, "core asked for its major").not.toMatch(/^\s*@tidemark\/core 0\.1\.0 -> 1\.0\.0/m);
    expect(planLine(failed.stdout, "@tidemark/etcd"), "the plan is printed before failing").toMatch(/-> 1\.0\.0/);

    await addChangeset(dir, "etcd-major", { "@tidemark/etcd": "major" });
    const passed = await check(dir);
    expect(passed.code, `${passed.stdout}\n${passed.stderr}`).toBe(0);
  });
});
