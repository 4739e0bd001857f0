// Publishing policy for every package that goes to npm, checked on the source manifests.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ADAPTER_DRIVERS,
  CORE_PEER_RANGE,
  DEPENDENCY_FIELDS,
  exportSubpaths,
  isOpenRange,
  publishablePackages,
  workspacePackages,
} from "./workspace.js";

const publishable = publishablePackages();
/** packages/* that are not storage/chain adapters. */
const NOT_ADAPTERS = new Set(["core", "conformance"]);

describe.each(publishable.map((p) => ({ rel: p.rel, pkg: p })))("$rel", ({ pkg }) => {
  const m = pkg.manifest;

  it("exports every subpath with `types` first", () => {
    const subpaths = exportSubpaths(m);
    expect(subpaths.length, "exports has at least one importable subpath").toBeGreaterThan(0);
    const exportsMap = (m.exports ?? {}) as Record<string, unknown>;
    const isSubpathMap = typeof m.exports === "object" && Object.keys(exportsMap).every((k) => k.startsWith("."));
    for (const subpath of subpaths) {
      const entry = isSubpathMap ? exportsMap[subpath] : m.exports;
      expect(typeof entry, `exports["${subpath}"] is a condition object`).toBe("object");
      // TypeScript picks the first matching condition, so `types` must come before `default`/`import`.
      expect(Object.keys(entry as object)[0], `exports["${subpath}"] starts with "types"`).toBe("types");
    }
  });

  it("has files, sideEffects: false, engines.node >=22.13, a license and a README", () => {
    expect(Array.isArray(m.files) && m.files.length > 0, "files is a non-empty array").toBe(true);
    expect(m.sideEffects).toBe(false);
    expect(m.engines?.node).toBe(">=22.13");
    expect(m.license, "license").toBeTruthy();
    expect(existsSync(join(pkg.dir, "README.md")), "README.md exists").toBe(true);
  });
});

const adapters = workspacePackages("packages").filter(
  (p) => !NOT_ADAPTERS.has(p.dirName) && p.manifest.private !== true,
);

describe.each(adapters.map((p) => ({ rel: p.rel, pkg: p })))("adapter $rel", ({ pkg }) => {
  const m = pkg.manifest;

  it(`takes @tidemark/core as a peer (${CORE_PEER_RANGE}) and dev dependency, never a dependency`, () => {
    expect(m.peerDependencies?.["@tidemark/core"]).toBe(CORE_PEER_RANGE);
    expect(m.devDependencies?.["@tidemark/core"], "devDependencies has @tidemark/core").toBeTruthy();
    expect(m.dependencies?.["@tidemark/core"]).toBeUndefined();
    expect(m.optionalDependencies?.["@tidemark/core"]).toBeUndefined();
  });
});

describe("peers on @tidemark/core", () => {
  const peering = publishable.filter((p) => p.manifest.peerDependencies?.["@tidemark/core"] !== undefined);

  it("are taken by every package but core and the app", () => {
    expect(peering.map((p) => p.rel).sort()).toEqual(
      publishable
        .filter((p) => p.rel.startsWith("packages/") && p.dirName !== "core")
        .map((p) => p.rel)
        .sort(),
    );
  });

  it.each(peering.map((p) => ({ rel: p.rel, pkg: p })))("$rel uses the range that spans 0.x", ({ pkg }) => {
    expect(pkg.manifest.peerDependencies?.["@tidemark/core"]).toBe(CORE_PEER_RANGE);
  });
});

describe("drivers", () => {
  const packages = workspacePackages("packages");
  const ingestd = publishable.find((p) => p.rel === "apps/ingestd");

  it.each(Object.entries(ADAPTER_DRIVERS).map(([adapter, driver]) => ({ adapter, driver })))(
    "packages/$adapter takes $driver as a peer with a range, and an exact version to test with",
    ({ adapter, driver }) => {
      const m = packages.find((p) => p.dirName === adapter)?.manifest;
      expect(m, `packages/${adapter} exists`).toBeDefined();
      const peer = m?.peerDependencies?.[driver];
      expect(isOpenRange(peer), `peerDependencies.${driver} is a range (not exact, not workspace:): ${peer}`).toBe(
        true,
      );
      expect(m?.peerDependenciesMeta?.[driver]?.optional, "the driver is a required peer").not.toBe(true);
      expect(m?.devDependencies?.[driver], "devDependencies pins the tested version").toMatch(/^\d+\.\d+\.\d+$/);
      expect(m?.dependencies?.[driver], "not also a dependency (a private copy)").toBeUndefined();
      expect(m?.optionalDependencies?.[driver]).toBeUndefined();
    },
  );

  it.each(Object.entries(ADAPTER_DRIVERS).map(([adapter, driver]) => ({ adapter, driver })))(
    "apps/ingestd takes $driver as an optional peer with packages/$adapter's range, and the same test version",
    ({ adapter, driver }) => {
      const adapterManifest = packages.find((p) => p.dirName === adapter)?.manifest;
      const m = ingestd?.manifest;
      expect(m?.peerDependencies?.[driver]).toBe(adapterManifest?.peerDependencies?.[driver]);
      expect(m?.peerDependenciesMeta?.[driver]?.optional).toBe(true);
      expect(m?.devDependencies?.[driver]).toBe(adapterManifest?.devDependencies?.[driver]);
      expect(m?.dependencies?.[driver]).toBeUndefined();
      expect(m?.optionalDependencies?.[driver]).toBeUndefined();
    },
  );

  it.each(packages.map((p) => ({ rel: p.rel, pkg: p })))("$rel depends on no other adapter's driver", ({ pkg }) => {
    const foreign: string[] = [];
    for (const [adapter, driver] of Object.entries(ADAPTER_DRIVERS)) {
      if (adapter === pkg.dirName) continue;
      for (const field of DEPENDENCY_FIELDS) {
        if (pkg.manifest[field]?.[driver] !== undefined) foreign.push(`${field}.${driver} (belongs to ${adapter})`);
      }
    }
    expect(foreign).toEqual([]);
  });
});
