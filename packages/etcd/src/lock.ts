import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  backoffDelay,
  type DistributedLock,
  InvalidArgumentError,
  type LeaseTimings,
  LockLostError,
  type LockState,
  resolveLeaseTimings,
  sleep,
} from "@tidemark/core";
import type { IKeyValue, IRangeRequest } from "etcd3";
import { type Connection, call, closeConnection, openConnection } from "./connection.js";
import type { EtcdLease } from "./fencing.js";
import { DEFAULT_LOCK_PREFIX, encodeName, prefixRangeEnd, showKey } from "./keys.js";
import { LeaseSession } from "./lease-session.js";
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

/** Requests on the acquiring path get at least this long: a slow answer there costs a retry, not the lease. */
const MIN_ACQUIRE_DEADLINE_MS = 5000;

/**
 * A DistributedLock on etcd leases, queued in revision order like etcd's Go
 * concurrency mutex: each contender puts `<prefix><key>/<lease id>` under its
 * own lease, the key created first holds, and every waiter watches the
 * deletion of the key created just before its own instead of polling. It
 * keeps etcd's own lease expiry rather than the `LeaseLock` engine, under the
 * same options and timing rules.
 */
export class EtcdLock implements DistributedLock, AsyncDisposable {
  readonly key: string;
  /** The node name written into the contender key (before the per-acquisition suffix). */
  readonly owner: string;
  /** Every contender key of this lock starts with it. */
  readonly keyPrefix: string;
  readonly timings: LeaseTimings;
  readonly #connection: Connection;
  readonly #range: Pick<IRangeRequest, "key" | "range_end">;
  #held: Holding | null = null;
  #acquiring: AbortController | null = null;
  #closed = false;
  /** Leases of earlier holdings whose revocation failed (etcd was unreachable); retried before the next acquisition. */
  readonly #staleLeases = new Set<LeaseSession>();
  readonly #background = new Set<Promise<void>>();

  constructor(options: EtcdLockOptions) {
    if (typeof options?.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError("etcd lock: key must be a non-empty string");
    }
    const label = `etcd lock "${options.key}"`;
    if (options.owner !== undefined && (typeof options.owner !== "string" || options.owner.length === 0)) {
      throw new InvalidArgumentError(`${label}: owner must be a non-empty string`);
    }
    this.key = options.key;
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.keyPrefix = `${options.prefix ?? DEFAULT_LOCK_PREFIX}${encodeName(options.key, "lock key")}/`;
    const prefix = Buffer.from(this.keyPrefix);
    this.#range = { key: prefix, range_end: prefixRangeEnd(prefix) };
    this.timings = resolveLeaseTimings(label, options);
    const deadlineMs = Math.max(this.timings.requestTimeoutMs, MIN_ACQUIRE_DEADLINE_MS);
    this.#connection = openConnection(options, label, deadlineMs);
  }

  /** performance.now() when the holder's last successful keep-alive was sent, or null when nothing is held. */
  get lastRenewedAt(): number | null {
    return this.#held?.session.lastRenewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<EtcdLease> {
    if (!(signal instanceof AbortSignal))
      throw new InvalidArgumentError(`lock "${this.key}": lock() needs an AbortSignal`);
    if (this.#closed) throw new InvalidArgumentError(`lock "${this.key}": lock() after close()`);
    signal.throwIfAborted();
    const held = this.#held;
    if (held !== null && !held.lease.signal.aborted) return held.lease;
    this.#held = null;
    if (this.#acquiring !== null) {
      throw new InvalidArgumentError(
        `lock "${this.key}": lock() is already waiting; one EtcdLock instance serves one run`,
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
    this.#acquiring?.abort(new LockLostError(`lock "${this.key}": unlock() was called while acquiring`));
    const held = this.#held;
    this.#held = null;
    if (held !== null) {
      held.monitor.abort();
      if (!held.controller.signal.aborted) held.controller.abort(new LockLostError(`lock "${this.key}" was released`));
      await this.#revoke(held.session);
    }
  }

  async describe(): Promise<LockState | null> {
    const { client } = this.#connection;
    return call(this.#connection, `describing lock "${this.key}"`, async (options) => {
      const holder = (
        await client.kv.range({ ...this.#range, sort_target: "Create", sort_order: "Ascend", limit: 1 }, options)
      ).kvs[0];
      if (holder === undefined) return null;
      const lease = await client.leaseClient.leaseTimeToLive({ ID: holder.lease }, options);
      const grantedSeconds = Number(lease.grantedTTL);
      return {
        key: this.key,
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

  /** Releases the lock and closes the client if this lock created it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.unlock();
    for (const stale of [...this.#staleLeases]) await this.#revoke(stale, this.#connection.requestTimeoutMs);
    await Promise.allSettled([...this.#background]);
    closeConnection(this.#connection);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #acquire(callerSignal: AbortSignal, signal: AbortSignal): Promise<EtcdLease> {
    while (true) {
      const session = await LeaseSession.grant(this.#connection, this.timings, signal, `lock "${this.key}"`);
      session.start();
      // etcd answers again. A lease of an earlier holding that could not be revoked while it was away
      // would hold the queue (ours included) until its TTL ran out, and a restarted etcd renews it in full.
      await this.#revokeStale();
      // Unique per acquisition, as in every tidemark lock; the lease id in the key is unique too, but not for operators.
      const owner = `${this.owner}:${randomUUID()}`;
      try {
        const waiting = AbortSignal.any([signal, session.signal]);
        const { token, revision } = await this.#contend(session, owner, waiting);
        if (signal.aborted) throw signal.reason;
        return this.#hold(session, owner, token, revision);
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
  async #contend(
    session: LeaseSession,
    owner: string,
    signal: AbortSignal,
  ): Promise<{ token: bigint; revision: bigint }> {
    const { client } = this.#connection;
    const myKey = Buffer.from(this.keyPrefix + session.hexId);
    const oldest = { ...this.#range, sort_target: "Create", sort_order: "Ascend", limit: 1 } as const;
    const enqueued = await call(
      this.#connection,
      `lock "${this.key}": putting ${showKey(myKey)}`,
      (options) =>
        client.kv.txn(
          {
            compare: [{ key: myKey, target: "Create", result: "Equal", create_revision: 0 }],
            success: [
              { request_put: { key: myKey, value: Buffer.from(owner), lease: session.id } },
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
        `lock "${this.key}": finding the contender ahead`,
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
          `lock "${this.key}": checking ${showKey(myKey)}`,
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

  #hold(session: LeaseSession, owner: string, token: bigint, revision: bigint): EtcdLease {
    const controller = new AbortController();
    const lease: EtcdLease = {
      signal: controller.signal,
      token,
      owner,
      key: this.key,
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
            `etcd ${this.#connection.endpoints}: lock "${this.key}" lost: holder key ${showKey(key)} was deleted`,
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
              `etcd ${this.#connection.endpoints}: lock "${this.key}" lost: holder key ${showKey(key)} is gone`,
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
      await session.revoke(`lock "${this.key}"`, retryTimeoutMs);
      this.#staleLeases.delete(session);
    } catch {
      this.#staleLeases.add(session);
    }
  }

  /** Called once a grant succeeded, so etcd answers: each revocation gets the whole request budget. */
  async #revokeStale(): Promise<void> {
    for (const stale of [...this.#staleLeases]) await this.#revoke(stale);
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }
}
