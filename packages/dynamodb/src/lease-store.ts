import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { LeaseClaim, LeaseRecordStore } from "@tidemark/core";
import { errorName, mapDynamoError } from "./errors.js";
import { formatGoDuration } from "./go-duration.js";
import { ATTR, type LockRecord, parseLockRecord, RELEASED } from "./lock-record.js";

/** The names the expressions use; DynamoDB rejects names an expression does not use, so each call picks its own. */
const N = {
  "#pk": ATTR.key,
  "#on": ATTR.ownerName,
  "#ld": ATTR.leaseDuration,
  "#rvn": ATTR.recordVersionNumber,
  "#ir": ATTR.isReleased,
  "#tok": ATTR.token,
} as const;

function names<K extends keyof typeof N>(...keys: K[]): Record<K, string> {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) out[key] = N[key];
  return out as Record<K, string>;
}

export interface DynamoDbLeaseStoreSettings {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly key: string;
  readonly deleteOnRelease: boolean;
  readonly data: Uint8Array | undefined;
}

/**
 * The lease engine's four operations on one cirello.io/dynamolock v1.3.3
 * record: `owner` is `ownerName`, `version` is `recordVersionNumber`, and the
 * lease is written as a Go duration, so Go nodes read, wait out and release
 * what TypeScript nodes write, and the other way round.
 */
export class DynamoDbLeaseStore implements LeaseRecordStore<LockRecord> {
  readonly label: string;
  readonly #settings: DynamoDbLeaseStoreSettings;
  /** The `leaseDuration` of the last claim, which renewals rewrite as dynamolock's heartbeat does. */
  #leaseText = "";

  constructor(settings: DynamoDbLeaseStoreSettings) {
    this.#settings = settings;
    this.label = `dynamodb lock "${settings.key}" in table "${settings.table}"`;
  }

  async read(signal: AbortSignal): Promise<LockRecord | null> {
    const { client, table, key } = this.#settings;
    try {
      const output = await client.send(
        new GetItemCommand({ TableName: table, Key: this.#key(), ConsistentRead: true }),
        { abortSignal: signal },
      );
      return parseLockRecord(output.Item, table, key);
    } catch (error) {
      throw this.#map(error, "GetItem", signal);
    }
  }

  /**
   * A full put, as dynamolock acquires: the previous record's `data` (unless
   * ours is set) and unknown attributes are carried over, and the token counts
   * on from the previous one.
   */
  async claim(previous: LockRecord | null, claim: LeaseClaim, signal: AbortSignal): Promise<{ token: bigint } | false> {
    const token = (previous?.token ?? 0n) + 1n;
    const data = this.#settings.data ?? previous?.data;
    this.#leaseText = formatGoDuration(claim.leaseMs);
    const item: Record<string, AttributeValue> = {
      ...previous?.extra,
      ...this.#key(),
      [ATTR.ownerName]: { S: claim.owner },
      [ATTR.leaseDuration]: { S: this.#leaseText },
      [ATTR.recordVersionNumber]: { S: claim.version },
      [ATTR.token]: { N: token.toString() },
    };
    if (data !== undefined) item[ATTR.data] = { B: data };
    try {
      await this.#settings.client.send(
        new PutItemCommand({ TableName: this.#settings.table, Item: item, ...takeCondition(previous) }),
        { abortSignal: signal },
      );
      return { token };
    } catch (error) {
      if (errorName(error) === "ConditionalCheckFailedException") return false;
      throw this.#map(error, "PutItem", signal);
    }
  }

  async renew(owner: string, version: string, next: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#settings.client.send(
        new UpdateItemCommand({
          TableName: this.#settings.table,
          Key: this.#key(),
          UpdateExpression: "SET #ld = :ld, #rvn = :next",
          ConditionExpression: "attribute_exists(#pk) AND #rvn = :rvn AND #on = :on AND attribute_not_exists(#ir)",
          ExpressionAttributeNames: names("#pk", "#on", "#ld", "#rvn", "#ir"),
          ExpressionAttributeValues: {
            ":ld": { S: this.#leaseText },
            ":next": { S: next },
            ":rvn": { S: version },
            ":on": { S: owner },
          },
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (error) {
      if (errorName(error) === "ConditionalCheckFailedException") return false;
      throw this.#map(error, "UpdateItem", signal);
    }
  }

  /** dynamolock's release (`isReleased = "1"`, or a delete), conditional on the owner name alone: it is unique per acquisition. */
  async release(owner: string, signal: AbortSignal): Promise<void> {
    const { client, table, deleteOnRelease } = this.#settings;
    const condition = {
      TableName: table,
      Key: this.#key(),
      ConditionExpression: "attribute_exists(#pk) AND #on = :on",
    };
    const values: Record<string, AttributeValue> = { ":on": { S: owner } };
    try {
      if (deleteOnRelease) {
        await client.send(
          new DeleteItemCommand({
            ...condition,
            ExpressionAttributeNames: names("#pk", "#on"),
            ExpressionAttributeValues: values,
          }),
          { abortSignal: signal },
        );
      } else {
        await client.send(
          new UpdateItemCommand({
            ...condition,
            UpdateExpression: "SET #ir = :ir",
            ExpressionAttributeNames: names("#pk", "#on", "#ir"),
            ExpressionAttributeValues: { ...values, ":ir": { S: RELEASED } },
          }),
          { abortSignal: signal },
        );
      }
    } catch (error) {
      // Someone else holds it already, or it is gone: nothing of ours is left to release.
      if (errorName(error) === "ConditionalCheckFailedException") return;
      throw this.#map(error, deleteOnRelease ? "DeleteItem" : "UpdateItem", signal);
    }
  }

  #key(): Record<string, AttributeValue> {
    return { [ATTR.key]: { S: this.#settings.key } };
  }

  #map(error: unknown, operation: string, signal: AbortSignal): unknown {
    return mapDynamoError(error, {
      operation,
      tables: [{ name: this.#settings.table, hashKey: ATTR.key }],
      subject: `lock "${this.#settings.key}"`,
      signal,
    });
  }
}

/**
 * Over an expired record: conditional on the version we watched. Over a free
 * one (absent or released): conditional on it still being free, and on the
 * token we read, which keeps tokens increasing among TypeScript nodes racing
 * for a released record.
 */
function takeCondition(previous: LockRecord | null) {
  if (previous !== null && !previous.released) {
    return {
      ConditionExpression: "attribute_exists(#pk) AND #rvn = :rvn",
      ExpressionAttributeNames: names("#pk", "#rvn"),
      ExpressionAttributeValues: { ":rvn": { S: previous.version } } as Record<string, AttributeValue>,
    };
  }
  const values: Record<string, AttributeValue> = { ":ir": { S: RELEASED } };
  if (previous?.token != null) values[":tok"] = { N: previous.token.toString() };
  const tokenCheck = previous?.token != null ? "#tok = :tok" : "attribute_not_exists(#tok)";
  return {
    ConditionExpression: `(attribute_not_exists(#pk) OR #ir = :ir) AND ${tokenCheck}`,
    ExpressionAttributeNames: names("#pk", "#ir", "#tok"),
    ExpressionAttributeValues: values,
  };
}
