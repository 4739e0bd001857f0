import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ConfigurationError, pointerFromNumber, sequenceCodec } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "../src/index.js";
import { temporaryDatabase } from "./temp-database.js";

describe("readOnly", () => {
  it("refuses a missing file, naming it, and creates nothing", () => {
    const path = join(dirname(temporaryDatabase()), "mistyped.db");
    const attempts = [
      () => new SqliteCommitter({ path, readOnly: true }),
      () => new SqliteLock({ path, key: "k", readOnly: true }),
      () => new SqliteHistoryStore({ path, codec: sequenceCodec, ingestor: "seq", readOnly: true }),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(ConfigurationError);
      expect(attempt).toThrow(`no such database file "${path}"`);
    }
    expect(readdirSync(dirname(path))).toEqual([]);
  });

  it("reads an existing file, creates no table, refuses writes and leaves no -wal or -shm file behind", async () => {
    const path = temporaryDatabase();
    const writer = new SqliteCommitter({ path });
    await writer.commit("seq", null, pointerFromNumber(7));
    await writer.close();

    const reader = new SqliteCommitter({ path, readOnly: true });
    expect(await reader.latest("seq")).toEqual(pointerFromNumber(7));
    await expect(reader.commit("seq", pointerFromNumber(7), pointerFromNumber(8))).rejects.toThrow(/readonly/);
    await reader.close();
    // The history and lock tables were never created: a read-only reader names the missing one.
    expect(() => new SqliteHistoryStore({ path, codec: sequenceCodec, ingestor: "seq", readOnly: true })).toThrow(
      /table "tidemark_history" does not exist/,
    );
    expect(() => new SqliteLock({ path, key: "k", readOnly: true })).toThrow(/table "tidemark_locks" does not exist/);

    const db = new DatabaseSync(path);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    db.close();
    expect(tables.map((t) => t.name)).toEqual(["tidemark_commits"]);
    expect(readdirSync(dirname(path))).toEqual(["tidemark.db"]);
  });
});
