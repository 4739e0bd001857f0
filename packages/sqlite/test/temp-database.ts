import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/** A fresh database file in a temporary directory, removed after the file's tests. */
export function temporaryDatabase(name = "tidemark.db"): string {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-sqlite-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}
