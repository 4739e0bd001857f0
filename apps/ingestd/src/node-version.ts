import { readFileSync } from "node:fs";

// Imported by bin.ts before anything else: only Node built-ins that every Node.js has, so that an
// old Node reaches the message instead of failing to load node:sqlite.

/**
 * The oldest Node.js `range` accepts, when it is of the `>=X.Y[.Z]` form
 * `engines` uses here; null for any other form (nothing is checked then).
 */
export function minimumNode(range: string): readonly number[] | null {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

/** The complaint about running on `version` (such as `v20.19.2`) when `range` wants newer, else null. */
export function nodeVersionProblem(version: string, range: string): string | null {
  const minimum = minimumNode(range);
  if (minimum === null) return null;
  const current = version
    .replace(/^v/, "")
    .split(".")
    .map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const have = current[i] ?? 0;
    const need = minimum[i] ?? 0;
    if (have > need) return null;
    if (have < need) return `needs Node.js >= ${range.trim().replace(/^>=\s*/, "")} (this is ${version})`;
  }
  return null;
}

/** `engines.node` of the package.json at `url` (the installed package's own), or null. */
export function enginesNode(url: URL): string | null {
  try {
    const manifest = JSON.parse(readFileSync(url, "utf8")) as { engines?: { node?: unknown } };
    return typeof manifest.engines?.node === "string" ? manifest.engines.node : null;
  } catch {
    return null;
  }
}
