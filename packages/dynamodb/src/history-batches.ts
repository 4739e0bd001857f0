import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { BackendUnavailableError, backoffDelay, sleep, withJitter } from "@tidemark/core";
import type { Outcome } from "./coalescer.js";
import { isThrottling, mapDynamoError, type TableRef } from "./errors.js";
import { ENTRY, type ItemWrite, itemId, TX_HASH } from "./history-layout.js";
import type { BatchRetryOptions } from "./options.js";

/** DynamoDB's limits per request. */
export const BATCH_WRITE_ITEMS = 25;
export const BATCH_GET_KEYS = 100;

interface Part<I> {
  readonly index: number;
  readonly id: string;
  readonly input: I;
}

interface Round<I> {
  /** Sends the parts still pending; resolves with the ids DynamoDB left unprocessed. */
  send(parts: readonly Part<I>[]): Promise<Set<string>>;
  readonly operation: string;
  readonly tables: readonly TableRef[];
}

/**
 * Sends `parts` and then again whatever DynamoDB left unprocessed (or refused
 * as a whole for throughput), with capped exponential backoff, up to
 * `maxAttempts` requests. Parts still unprocessed then fail alone with a
 * `BackendUnavailableError`; the rest succeeded.
 */
async function withUnprocessedRetries<I>(
  parts: readonly Part<I>[],
  round: Round<I>,
  retry: BatchRetryOptions,
): Promise<Outcome<void>[]> {
  const maxAttempts = retry.maxAttempts ?? 8;
  const backoff = { initialMs: retry.initialBackoffMs ?? 50, maxMs: retry.maxBackoffMs ?? 2000 };
  const outcomes: Outcome<void>[] = parts.map(() => ({ value: undefined }));
  const context = { operation: round.operation, tables: round.tables };
  let pending = parts;
  for (let attempt = 1; ; attempt++) {
    let unprocessed: Set<string>;
    let cause: unknown = null;
    try {
      unprocessed = await round.send(pending);
    } catch (error) {
      const mapped = mapDynamoError(error, { ...context, subject: `${pending.length} items` });
      if (!isThrottling(error) || attempt >= maxAttempts) {
        for (const part of pending) outcomes[part.index] = { error: mapped };
        return outcomes;
      }
      unprocessed = new Set(pending.map((part) => part.id));
      cause = mapped;
    }
    pending = pending.filter((part) => unprocessed.has(part.id));
    if (pending.length === 0) return outcomes;
    if (attempt >= maxAttempts) {
      const error = new BackendUnavailableError(
        `dynamodb: ${round.operation} in ${round.tables.map((t) => `table "${t.name}"`).join(" and ")} left ${pending.length} items unprocessed after ${attempt} attempts`,
        cause === null ? {} : { cause },
      );
      for (const part of pending) outcomes[part.index] = { error };
      return outcomes;
    }
    await sleep(withJitter(backoffDelay(attempt, backoff), 0.2));
  }
}

/** `BatchWriteItem` for puts and deletes of account and history items. */
export function batchWriter(client: DynamoDBClient, tables: readonly TableRef[], retry: BatchRetryOptions) {
  return (writes: readonly ItemWrite[]): Promise<Outcome<void>[]> =>
    withUnprocessedRetries(
      writes.map((input, index) => ({ index, id: input.id, input })),
      {
        operation: "BatchWriteItem",
        tables,
        async send(parts) {
          const requestItems: Record<string, WriteRequest[]> = {};
          for (const { input } of parts) {
            const requests = requestItems[input.table] ?? [];
            requests.push(input.request);
            requestItems[input.table] = requests;
          }
          const output = await client.send(new BatchWriteItemCommand({ RequestItems: requestItems }));
          const left = new Set<string>();
          for (const [table, requests] of Object.entries(output.UnprocessedItems ?? {})) {
            for (const request of requests) {
              const key = request.PutRequest?.Item ?? request.DeleteRequest?.Key;
              if (key) left.add(itemId(table, key));
            }
          }
          return left;
        },
      },
      retry,
    );
}

/** `BatchGetItem` of transaction items by id (strongly consistent): the item, or null when there is none. */
export function batchReader(client: DynamoDBClient, table: TableRef, retry: BatchRetryOptions) {
  return async (ids: readonly Uint8Array[]): Promise<Outcome<Record<string, AttributeValue> | null>[]> => {
    const found = new Map<string, Record<string, AttributeValue>>();
    const outcomes = await withUnprocessedRetries(
      ids.map((input, index) => ({ index, id: itemId(table.name, { [TX_HASH]: { B: input } }), input })),
      {
        operation: "BatchGetItem",
        tables: [table],
        async send(parts) {
          const output = await client.send(
            new BatchGetItemCommand({
              RequestItems: {
                [table.name]: {
                  Keys: parts.map(({ input }) => ({ [TX_HASH]: { B: input } })),
                  ConsistentRead: true,
                  ProjectionExpression: "#h, #e",
                  ExpressionAttributeNames: { "#h": TX_HASH, "#e": ENTRY },
                },
              },
            }),
          );
          for (const item of output.Responses?.[table.name] ?? []) found.set(itemId(table.name, item), item);
          const left = new Set<string>();
          for (const key of output.UnprocessedKeys?.[table.name]?.Keys ?? []) left.add(itemId(table.name, key));
          return left;
        },
      },
      retry,
    );
    return outcomes.map((outcome, i) =>
      "error" in outcome
        ? outcome
        : { value: found.get(itemId(table.name, { [TX_HASH]: { B: ids[i] as Uint8Array } })) ?? null },
    );
  };
}
