import {
  assertIngestorName,
  BackendUnavailableError,
  type CommitOptions,
  type Committer,
  InvalidArgumentError,
  InvalidCommitError,
  isTidemarkError,
  type Lease,
  LockLostError,
  type Pointer,
  parentMismatch,
  pointersEqual,
  pointerToHex,
  type ReadOptions,
  validateCommit,
  validateReset,
} from "@tidemark/core";
import type { Collection, Document } from "mongodb";
import { resolveCollection, type StoredDocument } from "./collection.js";
import { isDuplicateKey, type MongoTarget, mongoCall } from "./errors.js";
import type { MongoCommitterOptions } from "./options.js";
import { type CommitRecord, decodeCommitRecord, toBinary, toLong } from "./records.js";

export const DEFAULT_COMMIT_COLLECTION = "tidemark_commits";

/**
 * A Committer on MongoDB: one document per ingestor (`_id` = the name,
 * `latest` = the pointer as BSON Binary), changed only by single-document
 * conditional writes, so it needs no transactions and works on any MongoDB
 * deployment (standalone, replica set, sharded on `_id`, Atlas). It never
 * closes the client it is given.
 */
export class MongoCommitter implements Committer {
  /** `database.collection` of the commit documents. */
  readonly namespace: string;
  readonly #collection: Collection<StoredDocument>;
  readonly #target: MongoTarget;
  #closed = false;

  constructor(options: MongoCommitterOptions) {
    const resolved = resolveCollection(options, options?.collection ?? DEFAULT_COMMIT_COLLECTION, "committer");
    this.#collection = resolved.collection;
    this.namespace = resolved.namespace;
    this.#target = resolved.target;
  }

  /** Marks the committer closed; the client is the caller's, so nothing is disconnected. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    this.#checkOpen("commit");
    validateCommit(ingestor, parent, block);
    const { signal, lease } = options;
    signal?.throwIfAborted();
    if (lease?.signal.aborted) {
      throw new LockLostError(`mongodb: commit for "${ingestor}" rejected: the lease given with it was already lost`);
    }
    // First the state a commit normally finds: the parent stored and, when fenced, this lease's token as the fence.
    let expected: Expected = { latest: parent, fence: lease ? lease.token : undefined };
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#swap(ingestor, expected, block, lease, signal);
      if (outcome.applied) return;
      const { stored, unavailable } = outcome;
      if (lease) checkFence(ingestor, stored, lease, this.namespace);
      const storedLatest = stored?.latest ?? null;
      // The first commit (no pointer stored) is accepted whatever its parent; later ones need the stored parent.
      if (storedLatest !== null && !pointersEqual(storedLatest, parent)) {
        throw parentMismatch(ingestor, parent, storedLatest);
      }
      if (unavailable) {
        throw new BackendUnavailableError(
          `${unavailable.message}; read back, the commit document did not hold the block, so it was not applied`,
          { cause: unavailable },
        );
      }
      if (attempt > 1) {
        throw new InvalidCommitError(`mongodb: commit for "${ingestor}" rejected: the document changed concurrently`);
      }
      // Acceptable but not what the fast path expected (no pointer yet, or no fence raised yet):
      // one more compare-and-swap, on exactly the state just read.
      expected = { latest: storedLatest, fence: lease ? (stored?.fence ?? null) : undefined };
    }
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    this.#checkOpen("latest");
    assertIngestorName(ingestor);
    return (await this.#read(ingestor, options.signal))?.latest ?? null;
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    this.#checkOpen("reset");
    validateReset(ingestor, expected, block);
    const { signal } = options;
    signal?.throwIfAborted();
    const filter: Document = { _id: ingestor, latest: expected === null ? null : toBinary(expected) };
    try {
      const result = await mongoCall(`reset of "${ingestor}" in ${this.namespace}`, this.#target, signal, () =>
        this.#collection.updateOne(filter, { $set: { latest: toBinary(block) } }, { upsert: expected === null }),
      );
      if (result.matchedCount === 1 || result.upsertedCount === 1) return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const stored = await this.#read(ingestor, signal);
    throw new InvalidCommitError(
      `mongodb: reset of "${ingestor}" in ${this.namespace} rejected: expected ${pointerToHex(expected)}, ` +
        `stored ${pointerToHex(stored?.latest ?? null)}`,
    );
  }

  /**
   * Raises the document's fence to the lease's token (`$max`, so it never goes
   * down); from then on a commit fenced by an older lease no longer matches.
   * Rejects with `LockLostError` when a newer holder already raised it higher.
   */
  async fence(ingestor: string, lease: Lease, options: ReadOptions = {}): Promise<void> {
    this.#checkOpen("fence");
    assertIngestorName(ingestor);
    const { signal } = options;
    if (lease.token === null) return;
    if (lease.signal.aborted) {
      throw new LockLostError(`mongodb: fence for "${ingestor}" refused: the lease was already lost`);
    }
    // Read first so that a corrupt document is reported before anything is written to it.
    checkFence(ingestor, await this.#read(ingestor, signal), lease, this.namespace, true);
    const what = `raising the fence of commit document "${ingestor}" in ${this.namespace}`;
    const raise = () =>
      mongoCall(what, this.#target, signal, () =>
        this.#collection.findOneAndUpdate(
          { _id: ingestor },
          { $max: { fence: toLong(lease.token as bigint) } },
          { upsert: true, returnDocument: "after" },
        ),
      );
    let after: Document | null;
    try {
      after = await raise();
    } catch (error) {
      // Two fences racing to create the document: the loser's update now finds it.
      if (!isDuplicateKey(error)) throw error;
      after = await raise();
    }
    checkFence(ingestor, decodeCommitRecord(after, this.#where(ingestor)), lease, this.namespace, true);
  }

  /**
   * One compare-and-swap of `latest`, upserting when no document exists (the
   * unique `_id` turns a racing insert into a duplicate-key error). A write
   * whose outcome is unknown (a cut connection, a timeout) is settled by
   * reading the document back: holding `block` (under this lease's fence, when
   * fenced) means it was applied.
   */
  async #swap(
    ingestor: string,
    expected: Expected,
    block: Pointer,
    lease: Lease | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ applied: true } | { applied: false; stored: CommitRecord | null; unavailable: Error | null }> {
    const filter: Document = { _id: ingestor, latest: expected.latest === null ? null : toBinary(expected.latest) };
    if (expected.fence !== undefined) filter.fence = expected.fence === null ? null : toLong(expected.fence);
    let unavailable: Error | null = null;
    try {
      const result = await mongoCall(`commit for "${ingestor}" in ${this.namespace}`, this.#target, signal, () =>
        this.#collection.updateOne(filter, { $set: { latest: toBinary(block) } }, { upsert: true }),
      );
      if (result.matchedCount === 1 || result.upsertedCount === 1) return { applied: true };
    } catch (error) {
      // A duplicate key is the expected refusal (the document exists but did not match); an outage leaves
      // the outcome unknown; anything else was refused by the server and is reported as it is.
      if (isTidemarkError(error, BackendUnavailableError)) unavailable = error;
      else if (!isDuplicateKey(error)) throw error;
    }
    let stored: CommitRecord | null;
    try {
      stored = await this.#read(ingestor, signal);
    } catch (error) {
      throw unavailable ?? error;
    }
    if (unavailable !== null && stored?.latest != null && pointersEqual(stored.latest, block)) {
      // Under a fence, only the holder of this lease's token can have stored `block` there.
      const token = lease?.token ?? null;
      if (token === null || stored.fence === token) return { applied: true };
    }
    return { applied: false, stored, unavailable };
  }

  async #read(ingestor: string, signal: AbortSignal | undefined): Promise<CommitRecord | null> {
    const where = this.#where(ingestor);
    const document = await mongoCall(`reading ${where}`, this.#target, signal, () =>
      this.#collection.findOne({ _id: ingestor }, signal ? { signal } : {}),
    );
    return decodeCommitRecord(document, where);
  }

  #checkOpen(call: string): void {
    if (this.#closed) throw new InvalidArgumentError(`mongodb committer on ${this.namespace}: ${call}() after close()`);
  }

  #where(ingestor: string): string {
    return `commit document "${ingestor}" in ${this.namespace}`;
  }
}

/** What a compare-and-swap expects to find; `fence: undefined` leaves the fence out of the comparison. */
interface Expected {
  readonly latest: Pointer | null;
  readonly fence: bigint | null | undefined;
}

/** Throws `LockLostError` when the stored fence rules the lease out. */
function checkFence(
  ingestor: string,
  record: CommitRecord | null,
  lease: Lease,
  namespace: string,
  allowLower = false,
): void {
  const fence = record?.fence ?? null;
  if (fence === null || fence === lease.token) return;
  if (lease.token !== null && fence < lease.token) {
    if (allowLower) return;
    throw new LockLostError(
      `mongodb: commit for "${ingestor}" in ${namespace} refused: lease token ${lease.token} was never raised as its fence ` +
        `(stored fence ${fence}); call fence() after acquiring`,
    );
  }
  throw new LockLostError(
    `mongodb: "${ingestor}" in ${namespace} is fenced by lock token ${fence}: ` +
      `the holder with lease token ${lease.token} was superseded`,
  );
}
