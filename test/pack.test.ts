// Packs every publishable package the way `pnpm publish` would, checks the tarballs, then installs
// them all into a plain npm project (no workspace, no pnpm) and imports every export subpath.
// Needs the packages built first (scripts/test.sh runs `pnpm turbo run build`).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exportSubpaths,
  exportTargets,
  type Manifest,
  publishablePackages,
  repoRoot,
  run,
  specifier,
  type WorkspacePackage,
} from "./workspace.js";

const publishable = publishablePackages();

interface Packed {
  pkg: WorkspacePackage;
  tarball: string;
  /** The extracted `package/` folder. */
  root: string;
  manifest: Manifest;
  files: string[];
}

const packed = new Map<string, Packed>();
let tmp = "";

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split("\\").join("/"))
    .sort();
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tidemark-pack-"));
  for (const pkg of publishable) {
    const dest = join(tmp, "tarballs", pkg.dirName);
    await mkdir(dest, { recursive: true });
    const res = await run("pnpm", ["pack", "--json", "--pack-destination", dest], { cwd: pkg.dir });
    if (res.code !== 0) throw new Error(`pnpm pack failed in ${pkg.rel}:\n${res.stdout}\n${res.stderr}`);
    const tarball = (JSON.parse(res.stdout) as { filename: string }).filename;
    const out = join(tmp, "extracted", pkg.dirName);
    await mkdir(out, { recursive: true });
    const untar = await run("tar", ["-xzf", tarball, "-C", out], { cwd: tmp });
    if (untar.code !== 0) throw new Error(`tar failed for ${tarball}: ${untar.stderr}`);
    const root = join(out, "package");
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
    packed.set(pkg.rel, { pkg, tarball, root, manifest, files: listFiles(root) });
  }
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function get(rel: string): Packed {
  const p = packed.get(rel);
  if (!p) throw new Error(`${rel} was not packed`);
  return p;
}

describe.each(publishable.map((p) => ({ rel: p.rel })))("tarball of $rel", ({ rel }) => {
  it("has no workspace:/catalog: ranges left in its package.json", () => {
    const text = readFileSync(join(get(rel).root, "package.json"), "utf8");
    expect(text).not.toMatch(/"(workspace|catalog):/);
  });

  it("contains every file that exports/types/main/bin point at", () => {
    const { manifest, root } = get(rel);
    const bins = typeof manifest.bin === "string" ? [manifest.bin] : Object.values(manifest.bin ?? {});
    const targets = [
      ...exportTargets(manifest.exports),
      ...[manifest.types, manifest.typings, manifest.main].filter((t): t is string => typeof t === "string"),
      ...bins,
    ];
    expect(targets.length, "the manifest points at something").toBeGreaterThan(0);
    const missing = targets
      // A pattern ("./dist/*.js") is checked up to its wildcard: that folder has to be there.
      .map((t) => (t.includes("*") ? t.slice(0, t.indexOf("*")) : t))
      .filter((t) => !existsSync(join(root, t)));
    expect(missing).toEqual([]);
  });

  it("ships only what `files` lists: no sources, tests, build info or test files", () => {
    const { manifest, files } = get(rel);
    // npm always includes these, whatever `files` says.
    const always = /^(package\.json|readme(\.[^/]*)?|licen[cs]e(\.[^/]*)?|changelog(\.[^/]*)?)$/i;
    const allowedTop = new Set(
      (manifest.files ?? []).filter((f) => !f.startsWith("!")).map((f) => f.replace(/^\.\//, "").split("/")[0]),
    );
    const unexpected = files.filter((f) => {
      if (always.test(f)) return false;
      // Top-level folders/files must be listed in `files` (so src/ or test/ only ship when listed).
      if (!allowedTop.has(f.split("/")[0] ?? "")) return true;
      // Inside listed folders: no compiled tests, test folders or tsc build info.
      return /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.(d\.)?[cm]?[jt]s(\.map)?$|\.tsbuildinfo$/.test(f);
    });
    expect(unexpected).toEqual([]);
  });
});

describe("the tarballs in a plain npm project", () => {
  let consumer = "";

  beforeAll(async () => {
    consumer = join(tmp, "consumer");
    await mkdir(consumer, { recursive: true });
    await writeFile(
      join(consumer, "package.json"),
      JSON.stringify({ name: "tidemark-pack-consumer", private: true, type: "module" }, null, 2),
    );
    // Peers that no tarball provides (vitest for the conformance kit, drivers, prom-client which is an
    // optional peer but needed to import @tidemark/core/prometheus): install them at the version the
    // workspace itself tests against (its devDependency), else at the peer range.
    const names = new Set([...packed.values()].map((p) => p.manifest.name));
    const peers = new Map<string, string>();
    for (const { pkg, manifest } of packed.values()) {
      for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
        if (names.has(peer) || peers.has(peer)) continue;
        peers.set(peer, pkg.manifest.devDependencies?.[peer] ?? range);
      }
    }
    const args = [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      "--no-package-lock",
      ...[...packed.values()].map((p) => p.tarball),
      ...[...peers].map(([peer, version]) => `${peer}@${version}`),
    ];
    const res = await run("npm", args, { cwd: consumer, timeout: 280_000 });
    if (res.code !== 0) throw new Error(`npm ${args.join(" ")} failed:\n${res.stdout}\n${res.stderr}`);
  }, 300_000);

  const subpaths = publishable.flatMap((p) =>
    exportSubpaths(p.manifest).map((sub) => ({ spec: specifier(p.manifest.name, sub) })),
  );

  it.each(subpaths)("import('$spec') resolves and has exports", async ({ spec }) => {
    const script = `const m = await import(${JSON.stringify(spec)}); console.log(JSON.stringify(Object.keys(m)));`;
    // process.execPath: the same Node that runs vitest (>= 22.13), not whatever `node` is first on PATH.
    const res = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: consumer });
    expect(res.code, `${spec} failed to import:\n${res.stderr}`).toBe(0);
    const keys = JSON.parse(res.stdout.trim().split("\n").at(-1) ?? "[]") as string[];
    expect(keys.length, `${spec} exposes at least one export`).toBeGreaterThan(0);
  });

  it("the published types resolve for a TypeScript consumer (moduleResolution nodenext)", async () => {
    const lines = subpaths.map(({ spec }, i) => `import * as m${i} from ${JSON.stringify(spec)};`);
    lines.push(`export const all = [${subpaths.map((_, i) => `m${i}`).join(", ")}];`);
    await writeFile(join(consumer, "index.ts"), `${lines.join("\n")}\n`);
    await writeFile(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2023",
          strict: true,
          noEmit: true,
          // Only resolution of our entry points is under test, not third-party .d.ts files.
          skipLibCheck: true,
          types: [],
        },
        files: ["index.ts"],
      }),
    );
    const tsc = join(repoRoot, "node_modules", ".bin", "tsc");
    const res = await run(tsc, ["-p", join(consumer, "tsconfig.json")], { cwd: consumer });
    expect(res.code, `tsc in ${relative(repoRoot, consumer)}:\n${res.stdout}${res.stderr}`).toBe(0);
  });
});
