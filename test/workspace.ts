// Helpers shared by the repo-level tests: where the repo is and which workspace packages it has.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

export const repoRoot = resolve(import.meta.dirname, "..");

export interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  license?: string;
  type?: string;
  main?: string;
  types?: string;
  typings?: string;
  sideEffects?: unknown;
  files?: string[];
  engines?: Record<string, string>;
  exports?: unknown;
  bin?: string | Record<string, string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  /** "packages/core" */
  rel: string;
  /** "core" */
  dirName: string;
  dir: string;
  manifest: Manifest;
}

export const DEPENDENCY_FIELDS = [
  "dependencies",
  "devDependencies",
  "peerDependencies",
  "optionalDependencies",
] as const;

/**
 * Each adapter's driver (folder under packages/ -> npm package): a peer of that adapter, since the
 * user passes their own client, and of nothing else under packages/ (ingestd takes them all as optional peers).
 */
export const ADAPTER_DRIVERS: Readonly<Record<string, string>> = {
  etcd: "etcd3",
  dynamodb: "@aws-sdk/client-dynamodb",
  mongodb: "mongodb",
  postgres: "pg",
};

/**
 * How every package peers on @tidemark/core: any 0.x, so a core minor during 0.x neither leaves the
 * adapters out of range nor makes Changesets re-release them (.changeset/README.md).
 */
export const CORE_PEER_RANGE = "workspace:>=0.0.0 <1.0.0";

/** A semver range that admits more than one version: not an exact version, a protocol (`workspace:`) or a tag. */
export function isOpenRange(range: string | undefined): boolean {
  // Digits and range operators only, so no protocol, tag or prerelease pin gets through.
  if (range === undefined || !/^[\d\s.<>=^~|xX*-]+$/.test(range)) return false;
  return !/^=?\d+\.\d+\.\d+$/.test(range.trim());
}

/** Workspace packages under the given top-level folders (those with a package.json), sorted by path. */
export function workspacePackages(...roots: string[]): WorkspacePackage[] {
  const found: WorkspacePackage[] = [];
  for (const root of roots) {
    const base = join(repoRoot, root);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      const dir = join(base, entry.name);
      const manifestPath = join(dir, "package.json");
      if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
      found.push({ rel: `${root}/${entry.name}`, dirName: entry.name, dir, manifest });
    }
  }
  return found.sort((a, b) => a.rel.localeCompare(b.rel));
}

/** The packages that get published: not private, under packages/ or apps/. */
export function publishablePackages(): WorkspacePackage[] {
  return workspacePackages("packages", "apps").filter((p) => p.manifest.private !== true);
}

/**
 * Export subpaths (".", "./prometheus", ...) other than "./package.json" and patterns.
 * A string or condition-object `exports` is the single subpath ".".
 */
export function exportSubpaths(manifest: Manifest): string[] {
  const { exports } = manifest;
  if (exports === undefined || exports === null) return [];
  if (typeof exports === "string" || Array.isArray(exports)) return ["."];
  const keys = Object.keys(exports as object);
  if (!keys.every((k) => k.startsWith("."))) return ["."];
  return keys.filter((k) => k !== "./package.json" && !k.includes("*"));
}

/** Every file path an `exports` map (and its nested conditions) points at. */
export function exportTargets(exports: unknown): string[] {
  if (typeof exports === "string") return [exports];
  if (Array.isArray(exports)) return exports.flatMap(exportTargets);
  if (exports && typeof exports === "object") return Object.values(exports).flatMap(exportTargets);
  return [];
}

/** The import specifier for a subpath: ("@tidemark/core", "./prometheus") -> "@tidemark/core/prometheus". */
export function specifier(name: string, subpath: string): string {
  return subpath === "." ? name : `${name}${subpath.slice(1)}`;
}

const execFileAsync = promisify(execFile);

/** Runs a command; never throws, returns its exit code and output (for assertions with context). */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; timeout?: number; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd: options.cwd,
      timeout: options.timeout ?? 120_000,
      env: options.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: `${e.stderr ?? ""}\n${e.message}`,
    };
  }
}
