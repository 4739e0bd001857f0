import { randomUUID } from "node:crypto";
import type { LeaseClaim, LeaseRecordStore } from "@tidemark/core";
import type { Collection } from "mongodb";
import type { StoredDocument } from "./collection.js";
import { isDuplicateKey, type MongoTarget, mongoCall } from "./errors.js";
import { decodeCounter, decodeLockRecord, type LockRecord, tokenCounterId, toLong } from "./records.js";

/**
 * The lease engine's four operations on one lease document (`_id` = the key),
 * each a single-document conditional write, plus the key's token counter.
 */
export class MongoLeaseStore implements LeaseRecordStore<LockRecord> {
  readonly label: string;
  readonly #key: string;
  readonly #collection: Collection<StoredDocument>;
  readonly #target: MongoTarget;
  readonly #where: string;
  readonly #counter: string;

  constructor(key: string, collection: Collection<StoredDocument>, namespace: string, target: MongoTarget) {
    this.#key = key;
    this.#collection = collection;
    this.#target = target;
    this.label = `mongodb lock "${key}" in ${namespace}`;
    this.#where = `lease document "${key}" in ${namespace}`;
    this.#counter = `token counter of lock "${key}" in ${namespace}`;
  }

  async read(signal: AbortSignal): Promise<LockRecord | null> {
    const document = await mongoCall(`reading ${this.#where}`, this.#target, signal, () =>
      this.#collection.findOne({ _id: this.#key }, { signal }),
    );
    return decodeLockRecord(document, this.#where);
  }

  async claim(previous: LockRecord | null, claim: LeaseClaim, signal: AbortSignal): Promise<{ token: bigint } | false> {
    // Taken before the write: a token is never reused, so one a lost race burns costs nothing.
    const token = await this.#nextToken(signal);
    const now = new Date();
    const { owner, version, leaseMs } = claim;
    const fields = { owner, version, leaseMs, token: toLong(token), released: false, acquiredAt: now, renewedAt: now };
    const what = `acquiring ${this.#where}`;
    if (previous === null) {
      try {
        await mongoCall(what, this.#target, signal, () => this.#collection.insertOne({ _id: this.#key, ...fields }));
        return { token };
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
    }
    // Exactly the state the engine observed: any renewal, release or takeover since changed the version.
    const result = await mongoCall(what, this.#target, signal, () =>
      this.#collection.updateOne({ _id: this.#key, version: previous.version }, { $set: fields }),
    );
    return result.matchedCount === 1 ? { token } : false;
  }

  async renew(owner: string, version: string, next: string, signal: AbortSignal): Promise<boolean> {
    const result = await mongoCall(`renewing ${this.#where}`, this.#target, signal, () =>
      this.#collection.updateOne(
        { _id: this.#key, owner, version, released: false },
        { $set: { version: next, renewedAt: new Date() } },
      ),
    );
    return result.matchedCount === 1;
  }

  async release(owner: string, signal: AbortSignal): Promise<void> {
    await mongoCall(`releasing ${this.#where}`, this.#target, signal, () =>
      this.#collection.updateOne(
        { _id: this.#key, owner, released: false },
        { $set: { released: true, version: randomUUID(), releasedAt: new Date() } },
      ),
    );
  }

  /** The next fencing token of this key: an atomic `$inc` on a counter that outlives the lease documents. */
  async #nextToken(signal: AbortSignal): Promise<bigint> {
    const increment = () =>
      mongoCall(`incrementing the ${this.#counter}`, this.#target, signal, () =>
        this.#collection.findOneAndUpdate(
          { _id: tokenCounterId(this.#key) },
          { $inc: { token: toLong(1n) } },
          { upsert: true, returnDocument: "after" },
        ),
      );
    try {
      return decodeCounter(await increment(), this.#counter);
    } catch (error) {
      // Two first acquisitions creating the counter at once: the loser's increment now finds it.
      if (!isDuplicateKey(error)) throw error;
      return decodeCounter(await increment(), this.#counter);
    }
  }
}
