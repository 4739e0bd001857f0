import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import type { Address } from "@solana/kit";
import { RpcResponseError } from "../errors.js";
import type { Entry } from "../gen/model_pb.js";
import { scanBlockBody } from "./block-scan.js";
import { parseBlock, parseFramedBlock, type RequiredAddress, type TransactionFilter } from "./block-shape.js";
import { parseJsonRpcResponse } from "./json-rpc-response.js";
import { kinCandidates, kinEntriesOfBlock, kinRequiredAddress } from "./kin-entries.js";

/** One getBlock response body as it came off the wire. */
export interface BlockBody {
  readonly bytes: Uint8Array;
  /** Its `Content-Encoding` (gzip, deflate, br), undefined when not compressed. */
  readonly encoding: string | undefined;
}

/** What a block's Kin transactions are selected by. */
export interface BlockReading {
  readonly mint: Address;
  readonly extensions: boolean;
}

/** How one mint's Kin transactions are told from the rest of a block. */
interface KinSelection {
  readonly keep: TransactionFilter;
  readonly required: RequiredAddress;
}

// A worker reads many blocks of one mint: its selection is built once.
const selections = new Map<Address, KinSelection>();

/**
 * The Kin entries of one getBlock response body: decompressed, framed,
 * checked, its Kin transactions selected and built. The whole CPU cost of a
 * block, run in a worker thread or in-process alike. Only the transactions
 * that may be Kin transactions are parsed (see {@link parseFramedBlock});
 * the rest are framed and checked as wire transactions. Throws what the
 * in-process reading always threw: `SyntaxError` for a body that is not JSON,
 * {@link JsonRpcError} for the node's error object, {@link RpcResponseError}
 * for a response of the wrong shape.
 */
export function entriesOfBody(slot: bigint, body: BlockBody, reading: BlockReading): Entry[] {
  const buffer = decompress(slot, body);
  let selection = selections.get(reading.mint);
  if (selection === undefined) {
    selection = { keep: kinCandidates(reading.mint), required: kinRequiredAddress(reading.mint) };
    selections.set(reading.mint, selection);
  }
  const framed = scanBlockBody(buffer);
  if (framed === null) {
    // No transactions array: an error object, a null result or a wrong shape, all small. Read whole.
    const block = resultOf(slot, buffer.toString("utf8"));
    return kinEntriesOfBlock(slot, parseBlock(slot, block, selection.keep), reading);
  }
  // Everything but the transactions, whose text stays in `buffer` for the ones worth parsing.
  const rest = `${buffer.toString("utf8", 0, framed.transactionsStart)}[]${buffer.toString("utf8", framed.transactionsEnd)}`;
  const block = parseFramedBlock(slot, resultOf(slot, rest), buffer, framed, selection.keep, selection.required);
  return kinEntriesOfBlock(slot, block, reading);
}

function resultOf(slot: bigint, text: string): unknown {
  const response = parseJsonRpcResponse(text, "getBlock") as { result?: unknown };
  const block = response.result;
  if (block === null) {
    // A finalized slot listed by getBlocksWithLimit must have a block: null is a node not there yet.
    throw new RpcResponseError(`Solana RPC getBlock(${slot}) returned null for a finalized slot`, "result");
  }
  return block;
}

function decompress(slot: bigint, { bytes, encoding }: BlockBody): Buffer {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case "":
    case "identity":
      return buffer;
    case "gzip":
    case "x-gzip":
      return gunzipSync(buffer);
    case "deflate":
      return inflateSync(buffer);
    case "br":
      return brotliDecompressSync(buffer);
    default:
      throw new RpcResponseError(
        `Solana RPC getBlock(${slot}): the response has Content-Encoding "${encoding}", which is not gzip, deflate or br`,
        "response",
      );
  }
}
