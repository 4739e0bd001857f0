// Publishing policy for every package that goes to npm, checked on the source manifests.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEPENDENCY_FIELDS, exportSubpaths, publishablePackages, workspacePackages } from "./workspace.js";

const publishable = publishablePackages();

/** Each adapter's own driver; no other package may depend on it (adapters stay independently installable). */
const DRIVERS: Record<string, string> = {
  etcd: "etcd3",
  dynamodb: "@aws-sdk/client-dynamodb",
  mongodb: "mongodb",
};
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

  it("takes @tidemark/core as a peer (workspace:^) and dev dependency, never a dependency", () => {
    expect(m.peerDependencies?.["@tidemark/core"]).toBe("workspace:^");
    expect(m.devDependencies?.["@tidemark/core"], "devDependencies has @tidemark/core").toBeTruthy();
    expect(m.dependencies?.["@tidemark/core"]).toBeUndefined();
    expect(m.optionalDependencies?.["@tidemark/core"]).toBeUndefined();
  });
});

describe("drivers", () => {
  const packages = workspacePackages("packages");

  it.each(packages.map((p) => ({ rel: p.rel, pkg: p })))("$rel depends on no other adapter's driver", ({ pkg }) => {
    const foreign: string[] = [];
    for (const [adapter, driver] of Object.entries(DRIVERS)) {
      if (adapter === pkg.dirName) continue;
      for (const field of DEPENDENCY_FIELDS) {
        if (pkg.manifest[field]?.[driver] !== undefined) foreign.push(`${field}.${driver} (belongs to ${adapter})`);
      }
    }
    expect(foreign).toEqual([]);
  });
});
