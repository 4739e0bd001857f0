import { InvalidArgumentError } from "@tidemark/core";
import type { Collection, Document } from "mongodb";
import { type ConnectPolicy, redactedUri } from "./errors.js";
import type { MongoConnectionOptions } from "./options.js";

/**
 * The adapter's documents, typed loosely on purpose: `_id` is a name (a string)
 * or a token counter's id, and every read is checked by `records.ts` anyway.
 */
export interface StoredDocument extends Document {
  _id: string | { tokenOf: string };
}

export interface ResolvedCollection {
  readonly collection: Collection<StoredDocument>;
  /** `database.collection`, for messages. */
  readonly namespace: string;
  readonly policy: ConnectPolicy;
}

/** Checks the shared options and opens the collection with the adapter's concerns and decoding settings. */
export function resolveCollection(
  options: MongoConnectionOptions,
  collectionName: string,
  component: string,
): ResolvedCollection {
  const client = options?.client;
  if (client == null || typeof client.db !== "function") {
    throw new InvalidArgumentError(`mongodb ${component}: client must be a MongoClient`);
  }
  const database = options.database ?? client.options?.dbName ?? "test";
  checkName(component, "database", database);
  checkName(component, "collection", collectionName);
  const attempts = options.connectAttempts ?? 3;
  if (!(Number.isInteger(attempts) && attempts >= 1) && attempts !== Number.POSITIVE_INFINITY) {
    throw new InvalidArgumentError(`mongodb ${component}: connectAttempts must be a positive integer, got ${attempts}`);
  }
  const retryMs = options.connectRetryMs ?? 1000;
  if (!Number.isFinite(retryMs) || retryMs < 0) {
    throw new InvalidArgumentError(
      `mongodb ${component}: connectRetryMs must be a non-negative number, got ${retryMs}`,
    );
  }
  const collection = client.db(database).collection<StoredDocument>(collectionName, {
    writeConcern: options.writeConcern ?? { w: "majority" },
    readConcern: { level: options.readConcern ?? "majority" },
    // Whatever the application set on its client, decode the way this adapter reads:
    // pointers as Binary (not Buffer), tokens as bigint (not a lossy number), documents as objects.
    promoteBuffers: false,
    promoteValues: true,
    useBigInt64: true,
    raw: false,
  });
  return {
    collection,
    namespace: `${database}.${collectionName}`,
    policy: { attempts, retryMs, target: redactedUri(client), reconnect: () => client.connect() },
  };
}

function checkName(component: string, what: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.includes("\0") || name.startsWith("$")) {
    throw new InvalidArgumentError(
      `mongodb ${component}: ${what} must be a non-empty name, got ${JSON.stringify(name)}`,
    );
  }
}
