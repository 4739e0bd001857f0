import { hostname } from "node:os";
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { type DistributedLock, InvalidArgumentError, LockLostError, type LockState, sleep } from "@tidemark/core";
import { errorName, mapDynamoError } from "./errors.js";
import { formatGoDuration } from "./go-duration.js";
import type { DynamoDbLease } from "./lease.js";
import { ATTR, type LockRecord, parseLockRecord, RELEASED, randomName } from "./lock-record.js";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LOCKS_TABLE, type DynamoDbLockOptions } from "./options.js";

/** The names every lock expression uses; DynamoDB rejects names an expression does not use, so each call picks its own. */
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

/** One acquisition, from the conditional put until unlock. */
interface Holding {
  readonly lease: DynamoDbLease;
  readonly controller: AbortController;
  readonly ownerName: string;
  /** The version we last confirmed is stored. */
  rvn: string;
  /** When the request that wrote `rvn` was sent (performance.now()): the lease counts from there. */
  confirmedAt: number;
  /** Versions we sent and have not yet seen settled, with their send times; any of them may be stored. */
  readonly tried: Map<string, number>;
  heartbeat: NodeJS.Timeout | null;
  watchdog: NodeJS.Timeout | null;
  inflight: Promise<void> | null;
  /** Aborts an in-flight heartbeat when the holding ends. */
  readonly stop: AbortController;
  /** `simulateCrash()`: as a paused process, it sends nothing and notices nothing. */
  frozen: boolean;
}

/**
 * A `DistributedLock` on a cirello.io/dynamolock v1.3.3 table, record for
 * record, so Go agora nodes and TypeScript nodes can share one lock during a
 * migration. A holder renews by rewriting `recordVersionNumber`; a waiter takes
 * over a record only after seeing its version unchanged for the lease written
 * in it, on its own monotonic clock. No wall clock is compared anywhere.
 */
export class DynamoDbLock implements DistributedLock {
  readonly key: string;
  readonly table: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly #client: DynamoDBClient;
  readonly #marginMs: number;
  readonly #pollMs: number;
  readonly #requestTimeoutMs: number;
  readonly #owner: string;
  readonly #leaseText: string;
  readonly #deleteOnRelease: boolean;
  readonly #data: Uint8Array | undefined;
  #held: Holding | null = null;
  #lastRenewedAt: number | null = null;

  constructor(options: DynamoDbLockOptions) {
    if (options?.client == null) throw new InvalidArgumentError("dynamodb lock: options.client is required");
    if (typeof options.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError("dynamodb lock: key must be a non-empty string");
    }
    const table = options.table ?? DEFAULT_LOCKS_TABLE;
    if (typeof table !== "string" || table.length === 0) {
      throw new InvalidArgumentError("dynamodb lock: table must be a non-empty string");
    }
    const heartbeatMs = positive("heartbeatMs", options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    const leaseMs = positive("leaseMs", options.leaseMs ?? 3 * heartbeatMs);
    if (!Number.isInteger(leaseMs) || leaseMs < 2 * heartbeatMs) {
      throw new InvalidArgumentError(
        `dynamodb lock: leaseMs must be a whole number of at least 2 * heartbeatMs (${2 * heartbeatMs}), got ${leaseMs}`,
      );
    }
    const marginMs = options.safetyMarginMs ?? leaseMs / 6;
    if (!(marginMs >= 0) || heartbeatMs + marginMs >= leaseMs) {
      throw new InvalidArgumentError(
        `dynamodb lock: safetyMarginMs must be >= 0 and leave room for a heartbeat (heartbeatMs + safetyMarginMs < leaseMs), got ${marginMs}`,
      );
    }
    this.#client = options.client;
    this.key = options.key;
    this.table = table;
    this.heartbeatMs = heartbeatMs;
    this.leaseMs = leaseMs;
    this.#marginMs = marginMs;
    this.#pollMs = positive("pollMs", options.pollMs ?? Math.min(1000, heartbeatMs / 2));
    this.#requestTimeoutMs = positive("requestTimeoutMs", options.requestTimeoutMs ?? heartbeatMs / 2);
    this.#owner = options.owner ?? hostname();
    this.#leaseText = formatGoDuration(leaseMs);
    this.#deleteOnRelease = options.deleteOnRelease ?? false;
    this.#data = options.data === undefined ? undefined : new Uint8Array(options.data);
  }

  /** performance.now() at which the request behind the last confirmed renewal (or the acquisition) was sent. */
  get lastRenewedAt(): number | null {
    return this.#lastRenewedAt;
  }

  async lock(signal: AbortSignal): Promise<DynamoDbLease> {
    if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError("dynamodb lock: lock() needs an AbortSignal");
    const current = this.#held;
    if (current !== null && !current.controller.signal.aborted) return current.lease;
    if (current !== null) await this.unlock().catch(() => {});
    /** The held record we are waiting out: its version and when we first saw it. */
    let seen: { rvn: string; at: number; leaseMs: number } | null = null;
    while (true) {
      signal.throwIfAborted();
      const record = await this.#read(signal);
      const now = performance.now();
      if (record === null || record.released) {
        const holding = await this.#take(record, "free", signal);
        if (holding !== null) return holding.lease;
        seen = null;
        continue;
      }
      if (seen === null || seen.rvn !== record.recordVersionNumber) {
        // The holder's lease is the one it wrote (a Go holder's "30s"), not ours.
        seen = { rvn: record.recordVersionNumber, at: now, leaseMs: record.leaseMs };
      } else if (now - seen.at >= seen.leaseMs) {
        const holding = await this.#take(record, "expired", signal);
        if (holding !== null) return holding.lease;
        seen = null;
        continue;
      }
      const untilExpiry = seen.at + seen.leaseMs - performance.now();
      await sleep(Math.max(1, Math.min(this.#pollMs, untilExpiry)), signal);
    }
  }

  async unlock(): Promise<void> {
    const holding = this.#held;
    if (holding === null) return;
    this.#held = null;
    this.#lastRenewedAt = null;
    this.#end(holding, "released");
    await holding.inflight;
    // The owner name is unique to this acquisition, so it alone proves the record is still ours.
    const condition = {
      Key: { [ATTR.key]: { S: this.key } },
      ConditionExpression: "attribute_exists(#pk) AND #on = :on",
      ExpressionAttributeValues: { ":on": { S: holding.ownerName } } as Record<string, AttributeValue>,
    };
    try {
      if (this.#deleteOnRelease) {
        await this.#client.send(
          new DeleteItemCommand({ TableName: this.table, ...condition, ExpressionAttributeNames: names("#pk", "#on") }),
          { abortSignal: AbortSignal.timeout(Math.max(this.#requestTimeoutMs, 5000)) },
        );
      } else {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.table,
            ...condition,
            UpdateExpression: "SET #ir = :ir",
            ExpressionAttributeNames: names("#pk", "#on", "#ir"),
            ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ":ir": { S: RELEASED } },
          }),
          { abortSignal: AbortSignal.timeout(Math.max(this.#requestTimeoutMs, 5000)) },
        );
      }
    } catch (error) {
      // Someone else holds it already, or it is gone: nothing of ours is left to release.
      if (errorName(error) === "ConditionalCheckFailedException") return;
      throw this.#map(error, this.#deleteOnRelease ? "DeleteItem" : "UpdateItem");
    }
  }

  async describe(): Promise<LockState | null> {
    const record = await this.#read(AbortSignal.timeout(Math.max(this.#requestTimeoutMs, 5000)));
    if (record === null || record.released) return null;
    return { key: this.key, owner: record.ownerName, token: record.token, leaseMs: record.leaseMs, released: false };
  }

  /**
   * Test hook: freeze the holder as a paused or partitioned process would be:
   * no heartbeats, no release, and no self-expiry (its lease signal stays
   * untouched). Only the commit fence stops it from doing harm.
   */
  simulateCrash(): void {
    const holding = this.#held;
    if (holding === null) return;
    holding.frozen = true;
    clearTimeout(holding.heartbeat ?? undefined);
    clearTimeout(holding.watchdog ?? undefined);
  }

  async #read(signal: AbortSignal): Promise<LockRecord | null> {
    try {
      const output = await this.#client.send(
        new GetItemCommand({ TableName: this.table, Key: { [ATTR.key]: { S: this.key } }, ConsistentRead: true }),
        { abortSignal: signal },
      );
      return parseLockRecord(output.Item, this.table, this.key);
    } catch (error) {
      throw this.#map(error, "GetItem", signal);
    }
  }

  /**
   * Writes a new record of ours over a free (absent or released) or an expired
   * one, conditional on it being exactly what we read. Null when someone else
   * got there first.
   */
  async #take(previous: LockRecord | null, mode: "free" | "expired", signal: AbortSignal): Promise<Holding | null> {
    const ownerName = `${this.#owner}.${randomName(20)}`;
    const rvn = randomName(32);
    const token = (previous?.token ?? 0n) + 1n;
    const data = this.#data ?? previous?.data;
    const item: Record<string, AttributeValue> = {
      ...previous?.extra,
      [ATTR.key]: { S: this.key },
      [ATTR.ownerName]: { S: ownerName },
      [ATTR.leaseDuration]: { S: this.#leaseText },
      [ATTR.recordVersionNumber]: { S: rvn },
      [ATTR.token]: { N: token.toString() },
    };
    if (data !== undefined) item[ATTR.data] = { B: data };
    let put: PutItemCommand;
    if (mode === "expired" && previous !== null) {
      put = new PutItemCommand({
        TableName: this.table,
        Item: item,
        ConditionExpression: "attribute_exists(#pk) AND #rvn = :rvn",
        ExpressionAttributeNames: names("#pk", "#rvn"),
        ExpressionAttributeValues: { ":rvn": { S: previous.recordVersionNumber } },
      });
    } else {
      // The counter check keeps tokens increasing among TypeScript nodes that race for a released record.
      const tokenCheck = previous?.token != null ? "#tok = :tok" : "attribute_not_exists(#tok)";
      const values: Record<string, AttributeValue> = { ":ir": { S: RELEASED } };
      if (previous?.token != null) values[":tok"] = { N: previous.token.toString() };
      put = new PutItemCommand({
        TableName: this.table,
        Item: item,
        ConditionExpression: `(attribute_not_exists(#pk) OR #ir = :ir) AND ${tokenCheck}`,
        ExpressionAttributeNames: names("#pk", "#ir", "#tok"),
        ExpressionAttributeValues: values,
      });
    }
    const sentAt = performance.now();
    try {
      // Not aborted by `signal`: a put cut off half-way would leave us not knowing whether we hold the lock.
      await this.#client.send(put, { abortSignal: AbortSignal.timeout(Math.max(this.#requestTimeoutMs, 5000)) });
    } catch (error) {
      if (errorName(error) === "ConditionalCheckFailedException") return null;
      // The answer was lost; our owner name is unique, so the record tells whether the put went through.
      const stored = await this.#read(AbortSignal.timeout(Math.max(this.#requestTimeoutMs, 5000))).catch(() => null);
      if (stored?.ownerName !== ownerName || stored.recordVersionNumber !== rvn)
        throw this.#map(error, "PutItem", signal);
    }
    const holding = this.#start(ownerName, rvn, token, sentAt);
    if (signal.aborted) {
      // The caller gave up while the put was in flight: hand the lock straight back.
      await this.unlock().catch(() => {});
      throw signal.reason;
    }
    return holding;
  }

  #start(ownerName: string, rvn: string, token: bigint, sentAt: number): Holding {
    const controller = new AbortController();
    const lease: DynamoDbLease = { signal: controller.signal, token, ownerName, table: this.table, key: this.key };
    const holding: Holding = {
      lease,
      controller,
      ownerName,
      rvn,
      confirmedAt: sentAt,
      tried: new Map([[rvn, sentAt]]),
      heartbeat: null,
      watchdog: null,
      inflight: null,
      stop: new AbortController(),
      frozen: false,
    };
    this.#held = holding;
    this.#lastRenewedAt = sentAt;
    this.#armWatchdog(holding);
    this.#scheduleHeartbeat(holding, this.heartbeatMs);
    return holding;
  }

  #scheduleHeartbeat(holding: Holding, delayMs: number): void {
    if (holding.frozen || holding.controller.signal.aborted) return;
    holding.heartbeat = setTimeout(() => {
      holding.heartbeat = null;
      holding.inflight = this.#beat(holding).finally(() => {
        holding.inflight = null;
      });
    }, delayMs);
  }

  async #beat(holding: Holding): Promise<void> {
    const next = randomName(32);
    const sentAt = performance.now();
    holding.tried.set(next, sentAt);
    let healthy: boolean;
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { [ATTR.key]: { S: this.key } },
          UpdateExpression: "SET #ld = :ld, #rvn = :next",
          ConditionExpression: "attribute_exists(#pk) AND #rvn = :rvn AND #on = :on AND attribute_not_exists(#ir)",
          ExpressionAttributeNames: names("#pk", "#on", "#ld", "#rvn", "#ir"),
          ExpressionAttributeValues: {
            ":ld": { S: this.#leaseText },
            ":next": { S: next },
            ":rvn": { S: holding.rvn },
            ":on": { S: holding.ownerName },
          },
        }),
        { abortSignal: AbortSignal.any([holding.stop.signal, AbortSignal.timeout(this.#requestTimeoutMs)]) },
      );
      if (holding.frozen || holding.stop.signal.aborted) return;
      this.#confirm(holding, next, sentAt);
      healthy = true;
    } catch {
      if (holding.frozen || holding.stop.signal.aborted) return;
      // A timeout or 5xx may still have been applied, and a failed condition may be our own earlier
      // attempt that was: only the record can tell, and any version we tried counts as ours.
      healthy = await this.#settle(holding);
    }
    // After a failure, try again soon: the watchdog, not this loop, decides when the lease is gone.
    this.#scheduleHeartbeat(holding, healthy ? this.heartbeatMs : Math.max(20, this.heartbeatMs / 4));
  }

  /** Re-reads the record after a failed heartbeat. True when it confirmed a renewal. */
  async #settle(holding: Holding): Promise<boolean> {
    let record: LockRecord | null;
    try {
      record = await this.#read(AbortSignal.any([holding.stop.signal, AbortSignal.timeout(this.#requestTimeoutMs)]));
    } catch (error) {
      // A record nobody can parse is not ours any more; anything else is a failed read, retried soon.
      if (errorName(error) === "CorruptRecordError")
        this.#lose(holding, "its record was overwritten with a malformed one");
      return false;
    }
    if (holding.frozen || holding.stop.signal.aborted) return false;
    const sentAt = record === null ? undefined : holding.tried.get(record.recordVersionNumber);
    if (record !== null && !record.released && record.ownerName === holding.ownerName && sentAt !== undefined) {
      if (record.recordVersionNumber === holding.rvn) return false;
      this.#confirm(holding, record.recordVersionNumber, sentAt);
      return true;
    }
    const why =
      record === null
        ? "its record was deleted"
        : record.released
          ? "its record was marked released"
          : record.ownerName !== holding.ownerName
            ? `owner "${record.ownerName}" took it over`
            : "its record version changed behind its back";
    this.#lose(holding, why);
    return false;
  }

  #confirm(holding: Holding, rvn: string, sentAt: number): void {
    holding.rvn = rvn;
    holding.confirmedAt = Math.max(holding.confirmedAt, sentAt);
    // Older attempts were conditional on versions that are no longer stored: they can never apply now.
    holding.tried.clear();
    holding.tried.set(rvn, sentAt);
    if (this.#held === holding) this.#lastRenewedAt = holding.confirmedAt;
    this.#armWatchdog(holding);
  }

  /**
   * Gives the lease up `safetyMarginMs` before a waiter that saw our last
   * confirmed version could take over, so `run` stops committing first.
   */
  #armWatchdog(holding: Holding): void {
    clearTimeout(holding.watchdog ?? undefined);
    const deadline = holding.confirmedAt + this.leaseMs - this.#marginMs;
    holding.watchdog = setTimeout(
      () => {
        holding.watchdog = null;
        if (holding.frozen) return;
        if (performance.now() >= deadline) {
          this.#lose(holding, `no renewal was confirmed for ${Math.round(performance.now() - holding.confirmedAt)} ms`);
        } else {
          this.#armWatchdog(holding);
        }
      },
      Math.max(0, deadline - performance.now()),
    );
  }

  #lose(holding: Holding, why: string): void {
    if (holding.controller.signal.aborted) return;
    clearTimeout(holding.heartbeat ?? undefined);
    clearTimeout(holding.watchdog ?? undefined);
    holding.controller.abort(new LockLostError(`dynamodb: lock "${this.key}" in table "${this.table}" lost: ${why}`));
  }

  #end(holding: Holding, why: string): void {
    clearTimeout(holding.heartbeat ?? undefined);
    clearTimeout(holding.watchdog ?? undefined);
    holding.stop.abort();
    if (!holding.controller.signal.aborted) {
      holding.controller.abort(new LockLostError(`dynamodb: lock "${this.key}" in table "${this.table}" ${why}`));
    }
  }

  #map(error: unknown, operation: string, signal?: AbortSignal): unknown {
    return mapDynamoError(error, {
      operation,
      tables: [{ name: this.table, hashKey: ATTR.key }],
      subject: `lock "${this.key}"`,
      signal,
    });
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`dynamodb lock: ${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}
