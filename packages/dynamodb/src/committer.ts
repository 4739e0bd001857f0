import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  type Update,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  assertIngestorName,
  BackendUnavailableError,
  type CommitOptions,
  type Committer,
  CorruptRecordError,
  copyPointer,
  InvalidArgumentError,
  InvalidCommitError,
  isTidemarkError,
  LockLostError,
  type Pointer,
  pointersEqual,
  pointerToHex,
  type ReadOptions,
  sleep,
  validateCommit,
  validateReset,
} from "@tidemark/core";
import { errorName, mapDynamoError, outcomeUnknown, type TableRef } from "./errors.js";
import { type DynamoDbLease, isDynamoDbLease } from "./lease.js";
import { DEFAULT_COMMITS_TABLE, type DynamoDbCommitterOptions } from "./options.js";
import { COMMITS_HASH_KEY, LOCKS_HASH_KEY } from "./tables.js";

/** agora's expressions, verbatim: Go and TypeScript nodes must agree on what a valid commit is. */
const COMMIT_UPDATE = "SET latest = :block";
const COMMIT_CONDITION = "attribute_not_exists(latest) or (latest = :parent and latest < :block)";
/** The fence: the lock record still carries this acquisition's owner name and was not released. */
const FENCE_CONDITION = "#on = :on AND attribute_not_exists(#ir)";
/**
 * agora sends `[0x00]` as the parent of a first commit, which a stored `[0x00]`
 * would match. An empty binary value can never equal a stored pointer (they
 * are never empty), so a null parent only ever wins through `attribute_not_exists`.
 */
const NO_PARENT = new Uint8Array(0);

/**
 * A `Committer` on agora's commit table: one item per ingestor, the pointer in
 * `latest` (B), advanced by a conditional `UpdateItem` exactly as agora's Go
 * committer does. Given a `DynamoDbLease`, the commit becomes a transaction
 * that also checks the lock record still names this holder.
 */
export class DynamoDbCommitter implements Committer {
  /** The commit table's name. */
  readonly table: string;
  readonly #client: DynamoDBClient;
  readonly #conflictRetries: number;
  #closed = false;

  constructor(options: DynamoDbCommitterOptions) {
    if (options?.client == null) throw new InvalidArgumentError("dynamodb committer: options.client is required");
    const table = options.table ?? DEFAULT_COMMITS_TABLE;
    if (typeof table !== "string" || table.length === 0) {
      throw new InvalidArgumentError("dynamodb committer: table must be a non-empty string");
    }
    const retries = options.conflictRetries ?? 5;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new InvalidArgumentError(
        `dynamodb committer: conflictRetries must be a non-negative integer, got ${retries}`,
      );
    }
    this.#client = options.client;
    this.table = table;
    this.#conflictRetries = retries;
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    validateCommit(ingestor, parent, block);
    this.#assertOpen();
    const { signal, lease } = options;
    signal?.throwIfAborted();
    const update = this.#commitUpdate(ingestor, parent, block);
    if (lease !== undefined) return this.#fencedCommit(ingestor, parent, block, update, lease, signal);
    try {
      await this.#client.send(new UpdateItemCommand(update), { abortSignal: signal });
    } catch (error) {
      if (errorName(error) !== "ConditionalCheckFailedException") {
        return this.#settle(ingestor, parent, block, error, signal, "UpdateItem");
      }
      await this.#rejected(ingestor, error, block, signal, (stored) =>
        commitRejection(this.table, ingestor, parent, stored),
      );
    }
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    assertIngestorName(ingestor);
    this.#assertOpen();
    options.signal?.throwIfAborted();
    return this.#read(ingestor, options.signal);
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    validateReset(ingestor, expected, block);
    this.#assertOpen();
    const { signal } = options;
    signal?.throwIfAborted();
    const values: Record<string, AttributeValue> = { ":block": { B: block } };
    if (expected !== null) values[":expected"] = { B: expected };
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { [COMMITS_HASH_KEY]: { S: ingestor } },
          UpdateExpression: COMMIT_UPDATE,
          ConditionExpression: expected === null ? "attribute_not_exists(latest)" : "latest = :expected",
          ExpressionAttributeValues: values,
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (errorName(error) !== "ConditionalCheckFailedException")
        throw this.#map(error, "UpdateItem", ingestor, signal);
      await this.#rejected(ingestor, error, block, signal, (stored) => {
        return new InvalidCommitError(
          `dynamodb: reset of ingestor "${ingestor}" in table "${this.table}" rejected: expected ${pointerToHex(expected)}, stored ${pointerToHex(stored)}`,
        );
      });
    }
  }

  /** Marks the committer closed; the client is the caller's, so nothing else is closed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidArgumentError(`dynamodb committer on table "${this.table}": used after close()`);
  }

  #commitUpdate(ingestor: string, parent: Pointer | null, block: Pointer) {
    return {
      TableName: this.table,
      Key: { [COMMITS_HASH_KEY]: { S: ingestor } },
      UpdateExpression: COMMIT_UPDATE,
      ConditionExpression: COMMIT_CONDITION,
      ExpressionAttributeValues: { ":parent": { B: parent ?? NO_PARENT }, ":block": { B: block } },
    } satisfies Update;
  }

  async #fencedCommit(
    ingestor: string,
    parent: Pointer | null,
    block: Pointer,
    update: Update,
    lease: DynamoDbLease | CommitOptions["lease"],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (lease === undefined || !isDynamoDbLease(lease)) {
      throw new InvalidArgumentError(
        `dynamodb: a fenced commit of ingestor "${ingestor}" needs a lease from DynamoDbLock (with owner, table and key)`,
      );
    }
    const lost = () =>
      new LockLostError(
        `dynamodb: commit of ingestor "${ingestor}" in table "${this.table}" rejected: lock "${lease.key}" in table "${lease.table}" is no longer held by owner "${lease.owner}"`,
      );
    if (lease.signal.aborted) throw lost();
    const command = new TransactWriteItemsCommand({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: lease.table,
            Key: { [LOCKS_HASH_KEY]: { S: lease.key } },
            ConditionExpression: FENCE_CONDITION,
            ExpressionAttributeNames: { "#on": "ownerName", "#ir": "isReleased" },
            ExpressionAttributeValues: { ":on": { S: lease.owner } },
          },
        },
        { Update: update },
      ],
    });
    for (let attempt = 0; ; attempt++) {
      try {
        // The SDK gives the transaction one ClientRequestToken for all its retries, so a retry after a lost answer is idempotent.
        await this.#client.send(command, { abortSignal: signal });
        return;
      } catch (error) {
        if (errorName(error) !== "TransactionCanceledException") {
          return this.#settle(ingestor, parent, block, error, signal, "TransactWriteItems", lease);
        }
        const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (reasons[0]?.Code === "ConditionalCheckFailed") throw lost();
        if (reasons[1]?.Code === "ConditionalCheckFailed") {
          return this.#rejected(ingestor, error, block, signal, (stored) =>
            commitRejection(this.table, ingestor, parent, stored),
          );
        }
        // A conflict with another request on these items (our own heartbeat): nothing was written, try again.
        if (reasons.some((reason) => reason.Code === "TransactionConflict") && attempt < this.#conflictRetries) {
          await sleep(20 * 2 ** attempt * (0.5 + Math.random()), signal);
          continue;
        }
        throw this.#map(error, "TransactWriteItems", ingestor, signal, lease);
      }
    }
  }

  /**
   * A failed condition: reads what is stored to say why, and to tell a real
   * rejection from our own earlier attempt whose answer was lost (the SDK
   * retried it, and the retry found the block already stored).
   */
  async #rejected(
    ingestor: string,
    error: unknown,
    block: Pointer,
    signal: AbortSignal | undefined,
    rejection: (stored: Pointer | null) => InvalidCommitError,
  ): Promise<void> {
    const stored = await this.#read(ingestor, signal);
    const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    if (attempts > 1 && pointersEqual(stored, block)) return;
    throw rejection(stored);
  }

  /**
   * A commit failed without a rejection. When its outcome is unknown (no
   * answer, a 5xx), the stored pointer settles it: our block means it was
   * applied, the parent means it was not (yet), anything else that another
   * commit won.
   */
  async #settle(
    ingestor: string,
    parent: Pointer | null,
    block: Pointer,
    error: unknown,
    signal: AbortSignal | undefined,
    operation: string,
    lease?: DynamoDbLease,
  ): Promise<void> {
    const mapped = this.#map(error, operation, ingestor, signal, lease);
    if (signal?.aborted || !outcomeUnknown(error) || !isTidemarkError(mapped, BackendUnavailableError)) throw mapped;
    let stored: Pointer | null;
    try {
      stored = await this.#read(ingestor, signal);
    } catch {
      throw mapped;
    }
    if (pointersEqual(stored, block)) return;
    if (pointersEqual(stored, parent)) {
      throw new BackendUnavailableError(`${mapped.message}; the stored pointer is still the parent`, { cause: error });
    }
    throw commitRejection(this.table, ingestor, parent, stored);
  }

  async #read(ingestor: string, signal: AbortSignal | undefined): Promise<Pointer | null> {
    let item: Record<string, AttributeValue> | undefined;
    try {
      const output = await this.#client.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { [COMMITS_HASH_KEY]: { S: ingestor } },
          ConsistentRead: true,
          ProjectionExpression: "latest",
        }),
        { abortSignal: signal },
      );
      item = output.Item;
    } catch (error) {
      throw this.#map(error, "GetItem", ingestor, signal);
    }
    const latest = item?.latest;
    if (latest === undefined) return null;
    if (!(latest.B instanceof Uint8Array) || latest.B.length === 0) {
      const type = Object.entries(latest).find(([, value]) => value !== undefined)?.[0] ?? "?";
      throw new CorruptRecordError(
        `dynamodb: item of ingestor "${ingestor}" in table "${this.table}" has a "latest" of type ${type === "B" ? "B (empty)" : type}, expected non-empty binary (B)`,
      );
    }
    return copyPointer(latest.B);
  }

  #map(error: unknown, operation: string, ingestor: string, signal?: AbortSignal, lease?: DynamoDbLease): unknown {
    const tables: TableRef[] = [{ name: this.table, hashKey: COMMITS_HASH_KEY }];
    if (lease !== undefined) tables.push({ name: lease.table, hashKey: LOCKS_HASH_KEY });
    return mapDynamoError(error, { operation, tables, subject: `ingestor "${ingestor}"`, signal });
  }
}

function commitRejection(
  table: string,
  ingestor: string,
  parent: Pointer | null,
  stored: Pointer | null,
): InvalidCommitError {
  return new InvalidCommitError(
    `dynamodb: commit of ingestor "${ingestor}" in table "${table}" rejected: parent ${pointerToHex(parent)} is not the stored pointer ${pointerToHex(stored)}`,
  );
}
