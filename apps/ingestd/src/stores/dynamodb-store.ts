import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Pointer, Visibility } from "@tidemark/core";
import {
  decodeEntry,
  globalHistorySlot,
  type KinVersion,
  ledgerFromPointer,
  orderingKeyOfSlot,
  slotFromPointer,
} from "@tidemark/kin";
import { InvalidConfigError } from "../config-error.js";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";
import { parseStoreUrl } from "./store-url.js";

interface DynamoDbModule {
  DynamoDbCommitter: new (options: { client: unknown; table?: string }) => Committer;
  DynamoDbLock: new (options: {
    client: unknown;
    key: string;
    table?: string;
    leaseMs?: number;
    owner?: string;
  }) => DistributedLock;
  createTables(client: unknown, options: { commitsTable?: string; locksTable?: string }): Promise<void>;
  createHistoryTables(client: unknown, options: HistoryTables): Promise<void>;
  DynamoDbHistoryStore: new <E>(
    options: HistoryTables & {
      client: unknown;
      codec: HistoryCodec<E>;
      committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
      visibility?: (signal?: AbortSignal) => Promise<Visibility>;
      globalHistory: (entry: E) => bigint | null;
      blockOfPointer: (pointer: Pointer) => bigint;
      orderingKeyOfBlock?: (block: bigint, edge: "first" | "last") => Uint8Array;
    },
  ) => HistoryStore<E>;
}

/** agora's history tables, renamed by URL parameters. */
interface HistoryTables {
  readonly table?: string;
  readonly accountTable?: string;
  readonly historyTable?: string;
}

interface AwsSdkModule {
  DynamoDBClient: new (config: Record<string, unknown>) => { destroy(): void };
}

export interface DynamoDbStoreSettings {
  readonly endpoint?: string;
  /** From the URL's user name and password; otherwise the SDK finds credentials in the environment. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly region?: string;
  readonly commitsTable?: string;
  readonly locksTable?: string;
  readonly history: HistoryTables;
}

/**
 * `dynamodb:` (AWS, region and credentials from the environment) or
 * `dynamodb://[ACCESS_KEY_ID:SECRET_ACCESS_KEY@]HOST:PORT` (an endpoint such as
 * DynamoDB Local; the key pair percent-encoded, else the SDK takes it from the
 * environment), with optional `?region=…&commits=…&locks=…&txByHash=…&txByAccount=…&txHistory=…`
 * (defaults: agora's `tx-history-commits`, `tx-history-locks`, `tx-by-hash`,
 * `tx-by-account` and `tx-history`, so tidemark nodes share a Go agora
 * fleet's tables and agora's readers see what tidemark wrote).
 */
export async function openDynamoDbStore(url: string, options: StoreOptions): Promise<Store> {
  const label = redactUrl(url);
  const settings = parseDynamoDbUrl(url);
  // The driver first: an adapter installed without its peer would otherwise fail to load naming only the adapter.
  const sdk = await importAdapter<AwsSdkModule>("@aws-sdk/client-dynamodb", label);
  const dynamodb = await importAdapter<DynamoDbModule>("@tidemark/dynamodb", label);
  const client = new sdk.DynamoDBClient({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
  const committer = new dynamodb.DynamoDbCommitter({
    client,
    ...(settings.commitsTable ? { table: settings.commitsTable } : {}),
  });
  const { createLock, closeLocks } = lockRegistry(
    options,
    (lock) =>
      new dynamodb.DynamoDbLock({
        client,
        ...(settings.locksTable ? { table: settings.locksTable } : {}),
        ...lock,
      }),
  );
  return {
    label,
    committer,
    createLock,
    openHistory(ingestor, { codec, committed, visibility }) {
      // agora's tx-history lists confirmed Kin4 entries by slot; Kin2/Kin3 entries are found by id and account only.
      const solana = ingestor === "history_KIN4";
      return new dynamodb.DynamoDbHistoryStore({
        client,
        codec,
        ...(visibility
          ? { visibility }
          : { committed: committed ?? ((signal) => committer.latest(ingestor, signal ? { signal } : {})) }),
        globalHistory: solana
          ? (entry) => globalHistorySlot(entry instanceof Uint8Array ? decodeEntry(entry) : entry)
          : () => null,
        blockOfPointer: solana
          ? slotFromPointer
          : (pointer) => BigInt(ledgerFromPointer(pointer, pointer[0] as KinVersion)),
        ...(solana ? { orderingKeyOfBlock: orderingKeyOfSlot } : {}),
        ...settings.history,
      });
    },
    init: async () => {
      await dynamodb.createTables(client, {
        ...(settings.commitsTable ? { commitsTable: settings.commitsTable } : {}),
        ...(settings.locksTable ? { locksTable: settings.locksTable } : {}),
      });
      await dynamodb.createHistoryTables(client, settings.history);
    },
    async close() {
      await closeLocks();
      await committer.close();
      client.destroy();
    },
  };
}

export function parseDynamoDbUrl(url: string): DynamoDbStoreSettings {
  const parsed = parseStoreUrl(url);
  if (parsed.hosts.length > 1) {
    throw new InvalidConfigError(
      "--store",
      `not a DynamoDB URL: "${redactUrl(url)}" (dynamodb: or dynamodb://[ACCESS_KEY_ID:SECRET_ACCESS_KEY@]HOST:PORT)`,
    );
  }
  const params = parsed.searchParams;
  for (const key of params.keys()) {
    if (!["region", "commits", "locks", "txByHash", "txByAccount", "txHistory", "tls"].includes(key)) {
      throw new InvalidConfigError(
        "--store",
        `unknown DynamoDB URL parameter "${key}" (known: region, commits, locks, txByHash, txByAccount, txHistory, tls)`,
      );
    }
  }
  const scheme = params.get("tls") === "true" ? "https" : "http";
  const host = parsed.hosts[0];
  const credentials =
    parsed.username === "" ? undefined : { accessKeyId: parsed.username, secretAccessKey: parsed.password ?? "" };
  return {
    ...(host ? { endpoint: `${scheme}://${host}` } : {}),
    ...(credentials ? { credentials } : {}),
    ...(params.get("region") ? { region: params.get("region") as string } : {}),
    ...(params.get("commits") ? { commitsTable: params.get("commits") as string } : {}),
    ...(params.get("locks") ? { locksTable: params.get("locks") as string } : {}),
    history: {
      ...(params.get("txByHash") ? { table: params.get("txByHash") as string } : {}),
      ...(params.get("txByAccount") ? { accountTable: params.get("txByAccount") as string } : {}),
      ...(params.get("txHistory") ? { historyTable: params.get("txHistory") as string } : {}),
    },
  };
}
