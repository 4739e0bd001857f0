import { parentPort } from "node:worker_threads";
import { toBinary } from "@bufbuild/protobuf";
import type { Address } from "@solana/kit";
import { EntrySchema } from "../gen/model_pb.js";
import { entriesOfBody } from "./block-body.js";
import { toWire, type WireError } from "./wire-error.js";

/** A block to read, as the pool posts it; `bytes` is transferred, not copied. */
export interface BlockTask {
  readonly id: number;
  readonly slot: bigint;
  readonly bytes: Uint8Array;
  readonly encoding: string | undefined;
  readonly mint: Address;
  readonly extensions: boolean;
}

/**
 * The worker's answer: the block's entries, each encoded (their buffers
 * transferred back), or its error; and the body's buffer, transferred back
 * to be reused.
 */
export type BlockTaskResult = { readonly id: number; readonly body: ArrayBuffer } & (
  | { readonly entries: Uint8Array[] }
  | { readonly error: WireError }
);

// The worker thread of BlockWorkerPool: one block at a time, everything after the bytes arrive.
parentPort?.on("message", (task: BlockTask) => {
  let result: BlockTaskResult;
  // The entries are copies: nothing read from the body points into it once they are built.
  const body = task.bytes.buffer as ArrayBuffer;
  const transfer = [body];
  try {
    const entries = entriesOfBody(task.slot, task, task).map((entry) => toBinary(EntrySchema, entry));
    result = { id: task.id, body, entries };
    // Each encoded entry normally owns its buffer; one that shares it is copied by the clone instead.
    const owned = entries.filter((bytes) => bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength);
    transfer.push(...new Set(owned.map((bytes) => bytes.buffer as ArrayBuffer)));
  } catch (error) {
    result = { id: task.id, body, error: toWire(error) };
  }
  parentPort?.postMessage(result, transfer);
});
