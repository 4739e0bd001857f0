import { join } from "node:path";
import { type HistoryCodec, pointerFromNumber, type Visibility } from "@tidemark/core";
import {
  type DynamoDbLocalTestServer,
  type MongoJavaTestServer,
  type PostgresTestServer,
  startDynamoDbLocal,
  startMongoJavaServer,
  startPostgres,
} from "@tidemark/test-servers";
import { type VisibilityEntry, visibilityCodec } from "@tidemark/test-servers/history-visibility";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openHistoryTarget } from "../src/stores/history-target.js";
import { openStore } from "../src/stores/open-store.js";
import { workdir } from "./cli-process.js";

// Every store kind hands a visibility through to its history store, on both paths of a history target:
// the commit store's own history, and a history kept in another backend.
const dir = workdir();
let dynamodb: DynamoDbLocalTestServer;
let mongo: MongoJavaTestServer;
let postgres: PostgresTestServer;
beforeAll(async () => {
  [dynamodb, mongo, postgres] = await Promise.all([startDynamoDbLocal(), startMongoJavaServer(), startPostgres()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([dynamodb?.close(), mongo?.close(), postgres?.close()]);
});

const p = pointerFromNumber;
// The scenario's codec stands in for Kin's: the stores are generic, only the target's types say Kin.
const codec = visibilityCodec as unknown as HistoryCodec<Uint8Array>;
const urls = () => ({
  sqlite: `sqlite:${join(dir, "visibility.db")}`,
  postgres: postgres.url,
  dynamodb: `dynamodb://tidemark:tidemark@${new URL(dynamodb.endpoint).host}?region=us-east-1`,
  mongodb: `mongodb://${new URL(mongo.uri).host}/tidemark`,
});

describe.each(["sqlite", "postgres", "dynamodb", "mongodb"] as const)("%s history", (kind) => {
  it.each([
    ["its own", false],
    ["another backend's", true],
  ] as const)("reads follow a visibility given for %s commits", async (_, elsewhere) => {
    const url = urls()[kind];
    const store = await openStore(url);
    const commits = elsewhere ? await openStore(`sqlite:${join(dir, `${kind}-commits.db`)}`) : store;
    await store.init?.();
    const target = await openHistoryTarget(url, elsewhere ? `sqlite:${join(dir, `${kind}-commits.db`)}` : url, commits);
    const ingestor = `visibility_${kind}_${elsewhere}_${Date.now().toString(36)}`;
    let visibility: Visibility = { upTo: p(7), hidden: [{ after: p(4), through: p(5) }] };
    const history = target.open(ingestor, codec, { visibility: async () => visibility });
    const committedOnly = target.open(ingestor, codec);
    try {
      const entries: VisibilityEntry[] = [5, 7].map((block) => ({
        id: `${ingestor}-${block}`,
        block,
        index: 0,
        accounts: [`${ingestor}-account`],
      }));
      for (const entry of entries) await history.write(entry as unknown as Uint8Array);
      const read = async (reader: typeof history) => {
        const found = (await reader.getAccountHistory(`${ingestor}-account`)) as unknown as VisibilityEntry[];
        const byId = await Promise.all(
          entries.map((entry) => reader.getTransaction(codec.transactionId(entry as never))),
        );
        return { account: found.map((entry) => entry.block), byId: byId.map((entry) => entry !== null) };
      };
      expect(await read(history), "block 5 hidden").toEqual({ account: [7], byId: [false, true] });
      visibility = { upTo: p(7), hidden: [] };
      expect(await read(history), "nothing hidden").toEqual({ account: [5, 7], byId: [true, true] });
      // Without a visibility, reads follow the ingestor's own pointer: nothing is committed.
      expect(await read(committedOnly), "committed only").toEqual({ account: [], byId: [false, false] });
    } finally {
      await history.close();
      await committedOnly.close();
      await target.close();
      if (elsewhere) await commits.close();
      await store.close();
    }
  });
});
