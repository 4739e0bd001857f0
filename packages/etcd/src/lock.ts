import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  backoffDelay,
  type DistributedLock,
  InvalidArgumentError,
  LockLostError,
  type LockState,
  sleep,
} from "@tidemark/core";
import type { IKeyValue, IRangeRequest } from "etcd3";
import { type Connection, call, closeConnection, openConnection } from "./connection.js";
import type { EtcdLease } from "./fencing.js";
import { DEFAULT_LOCK_PREFIX, encodeName, prefixRangeEnd, showKey } from "./keys.js";
import { LeaseSession, type LeaseTiming } from "./lease-session.js";
import type { EtcdLockOptions } from "./options.js";
import { watchDeletion } from "./streams.js";

interface Holding {
  readonly lease: EtcdLease;
  readonly controller: AbortController;
  readonly session: LeaseSession;
  /** Stops the watch on the holder's own key. */
  readonly monitor: AbortController;
}

/** Our contender key vanished while we waited (lease revoked or expired): start over with a new lease. */
class ContenderGone extends Error {}

/**
 * A DistributedLock on etcd leases, queued in revision order like etcd's Go
 * concurrency mutex: each contender puts `<prefix><name>/<lease id>` under its
 * own lease, the key created first holds, and every waiter watches the
 * deletion of the key created just before its own instead of polling.
 */
export class EtcdLock implements DistributedLock, AsyncDisposable {
  readonly name: string;
  readonly owner: string;
  /** Every contender key of this lock starts with it. */
  readonly keyPrefix: string;
  readonly #connection: Connection;
  readonly #timing: LeaseTiming;
  readonly #range: Pick<IRangeRequest, "key" | "range_end">;
  #held: Holding | null = null;
  #acquiring: AbortController | null = null;
  /** Leases of earlier holdings whose revocation failed (etcd was unreachable); retried before the next acquisition. */
  readonly #staleLeases = new Set<LeaseSession>();
  readonly #background = new Set<Promise<void>>();

  constructor(options: EtcdLockOptions) {
    if (typeof options.name !== "string" || options.name.length === 0) {
      throw new InvalidArgumentError("EtcdLock: name must be a non-empty string");
    }
    const ttlSeconds = options.ttlSeconds ?? 10;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new InvalidArgumentError(`EtcdLock: ttlSeconds must be a whole number of seconds >= 1, got ${ttlSeconds}`);
    }
    const ttlMs = ttlSeconds * 1000;
    const keepAliveMs = options.keepAliveMs ?? ttlMs / 3;
    const marginMs = options.safetyMarginMs ?? ttlMs / 6;
    if (!(keepAliveMs > 0) || !(marginMs >= 0) || keepAliveMs >= ttlMs - marginMs) {
      throw new InvalidArgumentError(
        `EtcdLock: keepAliveMs (${keepAliveMs}) must be positive and below the TTL minus the safety margin (${ttlMs} - ${marginMs} ms)`,
      );
    }
    this.name = options.name;
    this.owner = options.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.keyPrefix = `${options.prefix ?? DEFAULT_LOCK_PREFIX}${encodeName(options.name, "lock name")}/`;
    const prefix = Buffer.from(this.keyPrefix);
    this.#range = { key: prefix, range_end: prefixRangeEnd(prefix) };
    this.#timing = {
      ttlSeconds,
      ...(options.keepAliveMs === undefined ? {} : { keepAliveMs }),
      ...(options.safetyMarginMs === undefined ? {} : { safetyMarginMs: marginMs }),
    };
    this.#connection = openConnection(options, `EtcdLock "${options.name}"`);
  }

  /** performance.now() when the holder's last successful keep-alive was sent, or null when nothing is held. */
  get lastRenewedAt(): number | null {
    return this.#held?.session.lastRenewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<EtcdLease> {
    signal.throwIfAborted();
    const held = this.#held;
    if (held !== null && !held.lease.signal.aborted) return held.lease;
    this.#held = null;
    if (this.#acquiring !== null) {
      throw new InvalidArgumentError(
        `lock "${this.name}": lock() is already waiting; one EtcdLock instance serves one run`,
      );
    }
    const acquiring = new AbortController();
    this.#acquiring = acquiring;
    try {
      return await this.#acquire(signal, AbortSignal.any([signal, acquiring.signal]));
    } finally {
      if (this.#acquiring === acquiring) this.#acquiring = null;
    }
  }

  async unlock(): Promise<void> {
    this.#acquiring?.abort(new LockLostError(`lock "${this.name}": unlock() was called while acquiring`));
    const held = this.#held;
    this.#held = null;
    if (held !== null) {
      held.monitor.abort();
      if (!held.controller.signal.aborted) held.controller.abort(new LockLostError(`lock "${this.name}" was released`));
      await this.#revoke(held.session);
    }
  }

  async describe(): Promise<LockState | null> {
    const { client } = this.#connection;
    return call(this.#connection, `describing lock "${this.name}"`, async (options) => {
      const holder = (
        await client.kv.range({ ...this.#range, sort_target: "Create", sort_order: "Ascend", limit: 1 }, options)
      ).kvs[0];
      if (holder === undefined) return null;
      const lease = await client.leaseClient.leaseTimeToLive({ ID: holder.lease }, options);
      const grantedSeconds = Number(lease.grantedTTL);
      return {
        key: holder.key.toString("utf8"),
        owner: holder.value.toString("utf8"),
        token: BigInt(holder.create_revision),
        leaseMs: grantedSeconds > 0 ? grantedSeconds * 1000 : null,
        released: false,
      };
    });
  }

  /**
   * Test hook: freezes this holder as a paused or partitioned process would be.
   * Keep-alives and the watch on its key stop, nothing is sent or released and
   * its lease signal stays as it is, so etcd expires the lease after its TTL.
   */
  simulateCrash(): void {
    const held = this.#held;
    if (held === null) return;
    held.session.stop();
    held.monitor.abort();
  }

  /** Releases the lock and closes the client if this lock created it. */
  async close(): Promise<void> {
    await this.unlock();
    for (const stale of [...this.#staleLeases]) await this.#revoke(stale, this.#connection.requestTimeoutMs);
    await Promise.allSettled([...this.#background]);
    closeConnection(this.#connection);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #acquire(callerSignal: AbortSignal, signal: AbortSignal): Promise<EtcdLease> {
    await this.#revokeStale();
    while (true) {
      const session = await LeaseSession.grant(this.#connection, this.#timing, signal, `lock "${this.name}"`);
      session.start();
      try {
        const waiting = AbortSignal.any([signal, session.signal]);
        const { token, revision } = await this.#contend(session, waiting);
        if (signal.aborted) throw signal.reason;
        return this.#hold(session, token, revision);
      } catch (error) {
        session.stop();
        this.#track(this.#revoke(session));
        if (callerSignal.aborted) throw callerSignal.reason;
        if (signal.aborted) throw signal.reason;
        if (session.signal.aborted || error instanceof ContenderGone) continue;
        throw error;
      }
    }
  }

  /** Queues this session's key and waits until it is the oldest one. Resolves with its create revision. */
  async #contend(session: LeaseSession, signal: AbortSignal): Promise<{ token: bigint; revision: bigint }> {
    const { client } = this.#connection;
    const myKey = Buffer.from(this.keyPrefix + session.hexId);
    const oldest = { ...this.#range, sort_target: "Create", sort_order: "Ascend", limit: 1 } as const;
    const enqueued = await call(
      this.#connection,
      `lock "${this.name}": putting ${showKey(myKey)}`,
      (options) =>
        client.kv.txn(
          {
            compare: [{ key: myKey, target: "Create", result: "Equal", create_revision: 0 }],
            success: [
              { request_put: { key: myKey, value: Buffer.from(this.owner), lease: session.id } },
              { request_range: oldest },
            ],
            failure: [{ request_range: { key: myKey } }, { request_range: oldest }],
          },
          options,
        ),
      signal,
    );
    // A retried put finds its own key already there: its create revision is ours.
    const myRevision = enqueued.succeeded
      ? enqueued.header.revision
      : enqueued.responses[0]?.response_range?.kvs[0]?.create_revision;
    if (myRevision === undefined) throw new ContenderGone();
    const first = enqueued.responses[1]?.response_range?.kvs[0];
    if (first === undefined || first.create_revision === myRevision) {
      return { token: BigInt(myRevision), revision: BigInt(enqueued.header.revision) };
    }
    for (let attempt = 1; ; ) {
      const ahead = await call(
        this.#connection,
        `lock "${this.name}": finding the contender ahead`,
        (options) =>
          client.kv.range(
            {
              ...this.#range,
              sort_target: "Create",
              sort_order: "Descend",
              limit: 1,
              max_create_revision: (BigInt(myRevision) - 1n).toString(),
            },
            options,
          ),
        signal,
      );
      const predecessor: IKeyValue | undefined = ahead.kvs[0];
      if (predecessor === undefined) {
        // Nobody ahead: holding, provided our own key survived the wait.
        const mine = await call(
          this.#connection,
          `lock "${this.name}": checking ${showKey(myKey)}`,
          (options) => client.kv.range({ key: myKey }, options),
          signal,
        );
        if (mine.kvs[0]?.create_revision !== myRevision) throw new ContenderGone();
        return { token: BigInt(myRevision), revision: BigInt(mine.header.revision) };
      }
      try {
        await watchDeletion(this.#connection, predecessor.key, BigInt(ahead.header.revision) + 1n, signal);
        attempt = 1;
      } catch {
        if (signal.aborted) throw signal.reason;
        // The watch broke (etcd restarting, compaction): look again after a pause.
        await sleep(backoffDelay(attempt++, { initialMs: 50, maxMs: 1000 }), signal);
      }
    }
  }

  #hold(session: LeaseSession, token: bigint, revision: bigint): EtcdLease {
    const controller = new AbortController();
    const lease: EtcdLease = {
      signal: controller.signal,
      token,
      holderKey: this.keyPrefix + session.hexId,
      leaseId: session.id,
    };
    const monitor = new AbortController();
    const holding: Holding = { lease, controller, session, monitor };
    this.#held = holding;
    const onSessionLost = () => this.#lose(holding, session.signal.reason as LockLostError);
    if (session.signal.aborted) onSessionLost();
    else session.signal.addEventListener("abort", onSessionLost, { once: true, signal: monitor.signal });
    this.#track(this.#watchOwnKey(holding, revision));
    return lease;
  }

  /** Loses the holding the moment its key is deleted (revoked, expired or removed by hand). */
  async #watchOwnKey(holding: Holding, fromRevision: bigint): Promise<void> {
    const { client } = this.#connection;
    const key = Buffer.from(holding.lease.holderKey);
    const signal = holding.monitor.signal;
    let revision = fromRevision;
    for (let attempt = 1; !signal.aborted; ) {
      try {
        await watchDeletion(this.#connection, key, revision + 1n, signal);
        this.#lose(
          holding,
          new LockLostError(
            `etcd ${this.#connection.endpoints}: lock "${this.name}" lost: holder key ${showKey(key)} was deleted`,
          ),
        );
        return;
      } catch {
        if (signal.aborted) return;
      }
      // The watch broke: if the key is still ours, watch again from now; if etcd is down, the keep-alive watchdog decides.
      try {
        await sleep(backoffDelay(attempt++, { initialMs: 50, maxMs: 1000 }), signal);
        const mine = await client.kv.range({ key }, { deadline: Date.now() + this.#connection.requestTimeoutMs });
        if (signal.aborted) return;
        if (mine.kvs[0]?.create_revision !== holding.lease.token.toString()) {
          this.#lose(
            holding,
            new LockLostError(
              `etcd ${this.#connection.endpoints}: lock "${this.name}" lost: holder key ${showKey(key)} is gone`,
            ),
          );
          return;
        }
        revision = BigInt(mine.header.revision);
        attempt = 1;
      } catch {
        // Unreachable or aborted: loop (the loop ends once the monitor aborts).
      }
    }
  }

  #lose(holding: Holding, reason: LockLostError): void {
    holding.monitor.abort();
    holding.session.lose(reason);
    if (!holding.controller.signal.aborted) holding.controller.abort(reason);
    // Free the lock for others at once if etcd still answers; a lease etcd no longer knows is fine.
    this.#track(this.#revoke(holding.session));
  }

  /** Revokes a lease; if etcd does not answer, remembers it for the next acquisition. */
  async #revoke(session: LeaseSession, retryTimeoutMs = this.#connection.requestTimeoutMs): Promise<void> {
    try {
      await session.revoke(`lock "${this.name}"`, retryTimeoutMs);
      this.#staleLeases.delete(session);
    } catch {
      this.#staleLeases.add(session);
    }
  }

  async #revokeStale(): Promise<void> {
    // Short budgets: an unreachable etcd shows up in the grant that follows, with a proper error.
    for (const stale of [...this.#staleLeases]) await this.#revoke(stale, 500);
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }
}
