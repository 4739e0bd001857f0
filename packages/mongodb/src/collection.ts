import { InvalidArgumentError } from "@tidemark/core";
import type { Collection, Document } from "mongodb";
import { type MongoTarget, redactedUri } from "./errors.js";
import type { MongoConnectionOptions } from "./options.js";

/**
 * The adapter's documents, typed loosely on purpose: `_id` is a name (a string)
 * or a token counter's id, and every read is checked by `records.ts` anyway.
 */
export interface StoredDocument extends Document {
  _id: string | { tokenOf: string };
}

export interface ResolvedCollection<T extends Document = StoredDocument> {
  readonly collection: Collection<T>;
  /** `database.collection`, for messages. */
  readonly namespace: string;
  readonly target: MongoTarget;
}

/** Checks the shared options and opens the collection with the adapter's concerns and decoding settings. */
export function resolveCollection<T extends Document = StoredDocument>(
  options: MongoConnectionOptions,
  collectionName: string,
  component: string,
): ResolvedCollection<T> {
  const client = options?.client;
  if (client == null || typeof client.db !== "function") {
    throw new InvalidArgumentError(`mongodb ${component}: client must be a MongoClient`);
  }
  const database = options.database ?? client.options?.dbName ?? "test";
  checkName(component, "database", database);
  checkName(component, "collection", collectionName);
  const collection = client.db(database).collection<T>(collectionName, {
    writeConcern: options.writeConcern ?? { w: "majority" },
    readConcern: { level: options.readConcern ?? "majority" },
    // Whatever the application set on its client, decode the way this adapter reads:
    // pointers as Binary (not Buffer), tokens as bigint (not a lossy number), documents as objects.
    promoteBuffers: false,
    promoteValues: true,
    useBigInt64: true,
    raw: false,
  });
  return { collection, namespace: `${database}.${collectionName}`, target: { client, uri: redactedUri(client) } };
}

function checkName(component: string, what: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.includes("\0") || name.startsWith("$")) {
    throw new InvalidArgumentError(
      `mongodb ${component}: ${what} must be a non-empty name, got ${JSON.stringify(name)}`,
    );
  }
}
