// Packs every publishable package the way `pnpm publish` would, checks the tarballs, then installs
// them all into a plain npm project (no workspace, no pnpm), imports every export subpath and has
// ingestd load the drivers the user installed (and name the one that is missing).
// Needs the packages built first (scripts/test.sh runs `pnpm turbo run build`).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADAPTER_DRIVERS,
  CORE_PEER_RANGE,
  exportSubpaths,
  exportTargets,
  isOpenRange,
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

describe.each(
  publishable.filter((p) => p.manifest.peerDependencies?.["@tidemark/core"] !== undefined).map((p) => ({ rel: p.rel })),
)("published peers of $rel", ({ rel }) => {
  it("take any 0.x @tidemark/core", () => {
    expect(get(rel).manifest.peerDependencies?.["@tidemark/core"]).toBe(CORE_PEER_RANGE.replace(/^workspace:/, ""));
  });
});

describe.each(Object.entries(ADAPTER_DRIVERS).map(([adapter, driver]) => ({ rel: `packages/${adapter}`, driver })))(
  "published driver of $rel",
  ({ rel, driver }) => {
    it(`${driver} is a peer with a range, not a dependency of its own`, () => {
      const { manifest } = get(rel);
      expect(
        isOpenRange(manifest.peerDependencies?.[driver]),
        `peer range: ${manifest.peerDependencies?.[driver]}`,
      ).toBe(true);
      expect(manifest.dependencies?.[driver]).toBeUndefined();
      expect(manifest.optionalDependencies?.[driver]).toBeUndefined();
    });
  },
);

/** A store URL per remote adapter that opens without a server (the clients connect on first use). */
const STORE_URLS: Record<string, string> = {
  etcd: "etcd://127.0.0.1:1",
  dynamodb: "dynamodb://127.0.0.1:1?region=us-east-1",
  mongodb: "mongodb://127.0.0.1:1/tidemark",
  postgres: "postgres://tidemark:secret@127.0.0.1:1/tidemark",
};

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

  /** Runs an ES module script in the consumer with the Node that runs vitest; its last line is JSON. */
  async function inConsumer(script: string): Promise<unknown> {
    const res = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: consumer, timeout: 60_000 });
    expect(res.code, `script failed:\n${res.stderr}`).toBe(0);
    return JSON.parse(res.stdout.trim().split("\n").at(-1) ?? "null");
  }

  it("ingestd opens every remote store with the drivers installed next to it", async () => {
    const urls = Object.values(STORE_URLS);
    const script = `
      import { openStore } from "@tidemark/ingestd";
      const labels = [];
      for (const url of ${JSON.stringify(urls)}) {
        const store = await openStore(url);
        labels.push(store.label);
        await store.close();
      }
      console.log(JSON.stringify(labels));`;
    expect(await inConsumer(script)).toHaveLength(urls.length);
  });

  it.each(Object.entries(ADAPTER_DRIVERS).map(([adapter, driver]) => ({ adapter, driver })))(
    "ingestd names $driver and how to install it when only packages/$adapter is there",
    async ({ adapter, driver }) => {
      const installed = join(consumer, "node_modules", ...driver.split("/"));
      const aside = join(tmp, "moved-aside", driver.replace("/", "+"));
      expect(existsSync(installed), `${driver} was installed`).toBe(true);
      await mkdir(join(tmp, "moved-aside"), { recursive: true });
      await rename(installed, aside);
      try {
        const script = `
          import { openStore } from "@tidemark/ingestd";
          try {
            const store = await openStore(${JSON.stringify(STORE_URLS[adapter])});
            await store.close();
            console.log(JSON.stringify({ opened: true }));
          } catch (error) {
            console.log(JSON.stringify({ name: error.name, message: error.message }));
          }`;
        const outcome = (await inConsumer(script)) as { name?: string; message?: string };
        expect(outcome.name).toBe("ConfigurationError");
        expect(outcome.message).toContain(`needs the ${driver} package, which is not installed`);
        expect(outcome.message).toContain(`npm install ${driver}`);
      } finally {
        await rename(aside, installed);
      }
    },
  );
});
