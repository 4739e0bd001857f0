import {
  assertIngestorName,
  type CommitOptions,
  type Committer,
  CorruptRecordError,
  InvalidCommitError,
  type Pointer,
  parentMismatch,
  pointersEqual,
  pointerToHex,
  type ReadOptions,
  validateCommit,
  validateReset,
} from "@tidemark/core";
import type { ICompare, IKeyValue, IRequestOp, IResponseOp, ITxnRequest, ITxnResponse } from "etcd3";
import { type Connection, call, closeConnection, openConnection } from "./connection.js";
import { fenceBroken, fenceFor } from "./fencing.js";
import { DEFAULT_COMMIT_PREFIX, encodeName, showKey } from "./keys.js";
import type { EtcdCommitterOptions } from "./options.js";

/**
 * A Committer on etcd: one key per ingestor holding the pointer bytes, each
 * commit a single transaction. A commit given an {@link EtcdLease} also
 * checks, in the same transaction, that the lease still holds the lock.
 */
export class EtcdCommitter implements Committer, AsyncDisposable {
  readonly prefix: string;
  readonly #connection: Connection;

  constructor(options: EtcdCommitterOptions) {
    this.#connection = openConnection(options, "etcd committer", options.requestTimeoutMs ?? 5000);
    this.prefix = options.prefix ?? DEFAULT_COMMIT_PREFIX;
  }

  /** The etcd key an ingestor's pointer is stored under. */
  keyFor(ingestor: string): string {
    assertIngestorName(ingestor);
    return this.prefix + encodeName(ingestor, "ingestor name");
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    validateCommit(ingestor, parent, block);
    const key = Buffer.from(this.keyFor(ingestor));
    const fence = options.lease === undefined ? null : fenceFor(options.lease, ingestor);
    const fenceCompares = fence === null ? [] : [fence.compare];
    const put: IRequestOp = { request_put: { key, value: Buffer.from(block) } };
    const reads: IRequestOp[] = [{ request_range: { key } }, ...(fence === null ? [] : [fence.read])];
    const absent: ICompare = { key, target: "Create", result: "Equal", create_revision: 0 };
    const whenAbsent: ITxnRequest = { compare: [absent, ...fenceCompares], success: [put], failure: reads };
    // etcd compares are ANDed: "stored equals parent, or absent" needs the absent case as a nested transaction.
    const request: ITxnRequest =
      parent === null
        ? whenAbsent
        : {
            compare: [{ key, target: "Value", result: "Equal", value: Buffer.from(parent) }, ...fenceCompares],
            success: [put],
            failure: [{ request_txn: whenAbsent }],
          };
    let uncertain = false;
    const { client, endpoints } = this.#connection;
    await call(
      this.#connection,
      `commit for "${ingestor}" (key ${showKey(key)})`,
      async (callOptions) => {
        const response = await client.kv.txn(request, callOptions);
        const failed = failedReads(response, parent !== null);
        if (failed === null) return;
        const [stored, holder] = [firstKv(failed[0]), firstKv(failed[1])];
        const storedPointer = this.#decode(key, stored, endpoints);
        // An earlier attempt whose answer was lost may have been applied: finding our block
        // stored settles it as applied (reporting a conflict would make `run` drop a good holding).
        if (uncertain && pointersEqual(storedPointer, block)) return;
        if (fence !== null && holder?.create_revision !== fence.lease.token.toString()) {
          throw fenceBroken(ingestor, fence, endpoints, holder?.create_revision);
        }
        throw parentMismatch(ingestor, parent, storedPointer);
      },
      options.signal,
      { onUncertainFailure: () => (uncertain = true), finishInFlight: true },
    );
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    const key = Buffer.from(this.keyFor(ingestor));
    const { client, endpoints } = this.#connection;
    return call(
      this.#connection,
      `reading the pointer of "${ingestor}" (key ${showKey(key)})`,
      async (callOptions) => this.#decode(key, (await client.kv.range({ key }, callOptions)).kvs[0], endpoints),
      options.signal,
    );
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    validateReset(ingestor, expected, block);
    const key = Buffer.from(this.keyFor(ingestor));
    const compare: ICompare =
      expected === null
        ? { key, target: "Create", result: "Equal", create_revision: 0 }
        : { key, target: "Value", result: "Equal", value: Buffer.from(expected) };
    const request: ITxnRequest = {
      compare: [compare],
      success: [{ request_put: { key, value: Buffer.from(block) } }],
      failure: [{ request_range: { key } }],
    };
    let uncertain = false;
    const { client, endpoints } = this.#connection;
    await call(
      this.#connection,
      `reset of "${ingestor}" (key ${showKey(key)})`,
      async (callOptions) => {
        const response = await client.kv.txn(request, callOptions);
        if (response.succeeded) return;
        const stored = this.#decode(key, firstKv(response.responses[0]), endpoints);
        if (uncertain && pointersEqual(stored, block)) return;
        throw new InvalidCommitError(
          `reset of "${ingestor}" rejected: expected ${pointerToHex(expected)}, stored ${pointerToHex(stored)}`,
        );
      },
      options.signal,
      { onUncertainFailure: () => (uncertain = true), finishInFlight: true },
    );
  }

  /** Closes the client if this committer created it. Idempotent. */
  async close(): Promise<void> {
    closeConnection(this.#connection);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #decode(key: Buffer, kv: IKeyValue | undefined, endpoints: string): Pointer | null {
    if (kv === undefined) return null;
    if (kv.value.length === 0) {
      throw new CorruptRecordError(
        `etcd ${endpoints}: key ${showKey(key)} holds an empty value, which is not a pointer; nothing was written (to repair, delete the key, then reset with expected null)`,
      );
    }
    return new Uint8Array(kv.value);
  }
}

/** The reads of a failed commit (stored pointer, holder key), or null when the commit applied. */
function failedReads(response: ITxnResponse, nested: boolean): IResponseOp[] | null {
  if (response.succeeded) return null;
  if (!nested) return response.responses;
  const inner = response.responses[0]?.response_txn;
  if (inner === undefined) throw new Error("etcd answered a nested transaction without its response");
  return inner.succeeded ? null : inner.responses;
}

function firstKv(op: IResponseOp | undefined): IKeyValue | undefined {
  return op?.response_range?.kvs[0];
}
