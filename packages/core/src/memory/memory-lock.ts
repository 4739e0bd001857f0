import { BackendUnavailableError } from "../errors.js";
import { LeaseLock, type LeaseLockOptions } from "../lease-lock.js";
import type { LeaseClaim, LeaseRecord, LeaseRecordStore } from "../lease-record-store.js";

/** Lock records shared by in-memory locks, standing in for a lock table. */
export class MemoryLockServer {
  readonly records = new Map<string, LeaseRecord>();
  readonly #tokens = new Map<string, bigint>();

  /** Takes the lock away behind its holder's back (an operator deleting the record). */
  revoke(key: string): void {
    this.records.delete(key);
  }

  nextToken(key: string): bigint {
    const token = (this.#tokens.get(key) ?? 0n) + 1n;
    this.#tokens.set(key, token);
    return token;
  }
}

export interface MemoryLockOptions extends LeaseLockOptions {
  readonly server: MemoryLockServer;
}

/** One lock's view of the server; `reachable` false stands for a partition between them. */
class MemoryLeaseStore implements LeaseRecordStore {
  reachable = true;

  constructor(
    readonly server: MemoryLockServer,
    readonly key: string,
    readonly label: string,
  ) {}

  async read(): Promise<LeaseRecord | null> {
    this.#reach();
    return this.server.records.get(this.key) ?? null;
  }

  async claim(previous: LeaseRecord | null, claim: LeaseClaim): Promise<{ token: bigint } | false> {
    this.#reach();
    const stored = this.server.records.get(this.key) ?? null;
    if (stored?.version !== previous?.version) return false;
    const token = this.server.nextToken(this.key);
    this.server.records.set(this.key, { ...claim, token, released: false });
    return { token };
  }

  async renew(owner: string, version: string, next: string): Promise<boolean> {
    this.#reach();
    const stored = this.server.records.get(this.key);
    if (stored === undefined || stored.owner !== owner || stored.version !== version || stored.released) return false;
    this.server.records.set(this.key, { ...stored, version: next });
    return true;
  }

  async release(owner: string): Promise<void> {
    this.#reach();
    const stored = this.server.records.get(this.key);
    if (stored?.owner === owner && !stored.released) this.server.records.set(this.key, { ...stored, released: true });
  }

  #reach(): void {
    if (!this.reachable) throw new BackendUnavailableError(`${this.label}: the server cannot be reached (simulated)`);
  }
}

/** A lease lock in process memory, on the same engine and rule as every other lease lock. */
export class MemoryLock extends LeaseLock {
  readonly #store: MemoryLeaseStore;

  constructor(options: MemoryLockOptions) {
    const store = new MemoryLeaseStore(options.server, options.key, `memory lock "${options.key}"`);
    super(store, options, 3000);
    this.#store = store;
  }

  /** Test hook: cut this lock off from the server (a partition) until the returned function is called. */
  simulatePartition(): () => void {
    this.#store.reachable = false;
    return () => {
      this.#store.reachable = true;
    };
  }
}
