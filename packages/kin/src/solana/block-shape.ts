import type { Address } from "@solana/kit";
import { describe } from "../describe.js";
import { RpcResponseError } from "../errors.js";
import type { ScannedBlock, ScannedTransaction } from "./block-scan.js";

/** A compiled inner instruction as getBlock reports it (data in base58). */
export interface RpcInnerInstruction {
  readonly programIdIndex: number;
  readonly accounts: readonly number[];
  readonly data: string;
}

/** A token balance entry of getBlock's metadata (pre or post). */
export interface RpcTokenBalance {
  readonly accountIndex: number;
  readonly mint: Address;
  readonly owner: Address | null;
}

/** One transaction of a getBlock result, checked. */
export interface RpcBlockTransaction {
  /** Its position in the block. */
  readonly index: number;
  readonly bytes: Uint8Array;
  /** The RPC's TransactionError, null when it succeeded. */
  readonly err: unknown;
  /** False when the node returned the transaction without metadata. */
  readonly hasMeta: boolean;
  readonly loadedWritable: readonly Address[];
  readonly loadedReadonly: readonly Address[];
  readonly innerInstructions: readonly {
    readonly index: number;
    readonly instructions: readonly RpcInnerInstruction[];
  }[];
  /** Pre- then post-balances. */
  readonly tokenBalances: readonly RpcTokenBalance[];
}

/** A getBlock result, checked. */
export interface RpcBlock {
  readonly blockTime: Date | null;
  readonly transactions: readonly RpcBlockTransaction[];
}

/**
 * Whether a transaction may matter to the reader, judged from its wire bytes
 * and its metadata as the node sent it (unchecked: read it defensively).
 */
export type TransactionFilter = (bytes: Uint8Array, meta: unknown) => boolean;

/**
 * Checks the shape of a getBlock result (base64 encoding, full details) and
 * pulls out what the ingestor uses. Throws {@link RpcResponseError} naming the
 * slot and the field on the first mismatch: a block is never half-read. With
 * `keep`, a transaction it turns down is left out once its bytes are framed,
 * its metadata neither read nor checked: on mainnet, votes and other traffic
 * are most of a block, and cost no more than that.
 */
export function parseBlock(slot: bigint, raw: unknown, keep?: TransactionFilter): RpcBlock {
  const at = new Path(slot);
  const block = object(raw, at);
  const transactions: RpcBlockTransaction[] = [];
  array(block.transactions, at.field("transactions")).forEach((tx, i) => {
    const parsed = parseTransaction(tx, i, at.field(`transactions[${i}]`), keep);
    if (parsed !== null) transactions.push(parsed);
  });
  return { blockTime: blockTimeOf(block, at), transactions };
}

/**
 * An address a transaction must contain for its filter to keep it, as the
 * base58 text its metadata would show and as the key bytes its wire bytes
 * would hold.
 */
export interface RequiredAddress {
  readonly text: Buffer;
  readonly key: Buffer;
}

/**
 * {@link parseBlock} for a body framed by `scanBlockBody`: `raw` is the
 * result parsed with its transactions array emptied, `framed` says where each
 * transaction is in `body`. A plain transaction (see `ScannedTransaction`)
 * that contains `required` nowhere is framed and left: `keep` could not keep
 * it. Every other one is parsed and checked as {@link parseBlock} does, so
 * both read the same transactions.
 */
export function parseFramedBlock(
  slot: bigint,
  raw: unknown,
  body: Buffer,
  framed: ScannedBlock,
  keep: TransactionFilter,
  required: RequiredAddress,
): RpcBlock {
  const at = new Path(slot);
  const blockTime = blockTimeOf(object(raw, at), at);
  const mentions: number[] = [];
  for (
    let hit = body.indexOf(required.text, framed.transactionsStart);
    hit >= 0 && hit < framed.transactionsEnd;
    hit = body.indexOf(required.text, hit + 1)
  )
    mentions.push(hit);
  let next = 0;
  const transactions: RpcBlockTransaction[] = [];
  for (let i = 0; i < framed.transactions.length; i++) {
    const tx = framed.transactions[i] as ScannedTransaction;
    while (next < mentions.length && (mentions[next] as number) < tx.start) next++;
    const mentioned = next < mentions.length && (mentions[next] as number) < tx.end;
    if (tx.plain && !mentioned) {
      const bytes = decodeWire(body.toString("latin1", tx.base64Start, tx.base64End));
      if (typeof bytes === "string") throw at.field(`transactions[${i}]`).field("transaction[0]").error(bytes);
      if (!Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(required.key)) continue;
    }
    const raw: unknown = JSON.parse(body.toString("utf8", tx.start, tx.end));
    const parsed = parseTransaction(raw, i, at.field(`transactions[${i}]`), keep);
    if (parsed !== null) transactions.push(parsed);
  }
  return { blockTime, transactions };
}

function blockTimeOf(block: Record<string, unknown>, at: Path): Date | null {
  const blockTime = block.blockTime;
  if (blockTime === null || blockTime === undefined) return null;
  return new Date(Number(integer(blockTime, at.field("blockTime"))) * 1000);
}

function parseTransaction(raw: unknown, index: number, at: Path, keep?: TransactionFilter): RpcBlockTransaction | null {
  const tx = object(raw, at);
  const encoded = tx.transaction;
  if (!Array.isArray(encoded) || encoded.length !== 2 || typeof encoded[0] !== "string" || encoded[1] !== "base64") {
    throw at.field("transaction").error(`expected [<base64>, "base64"], got ${describe(encoded)}`);
  }
  const bytes = wireBytes(encoded[0], at.field("transaction[0]"));
  const version = tx.version;
  if (version !== undefined && version !== "legacy" && version !== 0 && version !== 0n) {
    throw at.field("version").error(`expected "legacy" or 0, got ${describe(version)}`);
  }
  if (keep !== undefined && !keep(bytes, tx.meta)) return null;
  if (tx.meta === null || tx.meta === undefined) {
    return {
      index,
      bytes,
      err: null,
      hasMeta: false,
      loadedWritable: [],
      loadedReadonly: [],
      innerInstructions: [],
      tokenBalances: [],
    };
  }
  const metaAt = at.field("meta");
  const meta = object(tx.meta, metaAt);
  const err = meta.err ?? null;
  if (err !== null && typeof err !== "object" && typeof err !== "string") {
    throw metaAt.field("err").error(`expected null, a string or an object, got ${describe(err)}`);
  }
  let loadedWritable: Address[] = [];
  let loadedReadonly: Address[] = [];
  if (meta.loadedAddresses !== undefined && meta.loadedAddresses !== null) {
    const loadedAt = metaAt.field("loadedAddresses");
    const loaded = object(meta.loadedAddresses, loadedAt);
    loadedWritable = array(loaded.writable, loadedAt.field("writable")).map((a, i) =>
      address(a, loadedAt.field(`writable[${i}]`)),
    );
    loadedReadonly = array(loaded.readonly, loadedAt.field("readonly")).map((a, i) =>
      address(a, loadedAt.field(`readonly[${i}]`)),
    );
  }
  const innerInstructions =
    meta.innerInstructions === null || meta.innerInstructions === undefined
      ? []
      : array(meta.innerInstructions, metaAt.field("innerInstructions")).map((group, g) => {
          const groupAt = metaAt.field(`innerInstructions[${g}]`);
          const value = object(group, groupAt);
          return {
            index: Number(integer(value.index, groupAt.field("index"))),
            instructions: array(value.instructions, groupAt.field("instructions")).map((ix, i) =>
              parseInner(ix, groupAt.field(`instructions[${i}]`)),
            ),
          };
        });
  const tokenBalances = [
    ...balances(meta.preTokenBalances, metaAt.field("preTokenBalances")),
    ...balances(meta.postTokenBalances, metaAt.field("postTokenBalances")),
  ];
  return { index, bytes, err, hasMeta: true, loadedWritable, loadedReadonly, innerInstructions, tokenBalances };
}

function parseInner(raw: unknown, at: Path): RpcInnerInstruction {
  const ix = object(raw, at);
  const data = ix.data;
  if (typeof data !== "string") throw at.field("data").error(`expected a base58 string, got ${describe(data)}`);
  return {
    programIdIndex: Number(integer(ix.programIdIndex, at.field("programIdIndex"))),
    accounts: array(ix.accounts, at.field("accounts")).map((a, i) => Number(integer(a, at.field(`accounts[${i}]`)))),
    data,
  };
}

function balances(raw: unknown, at: Path): RpcTokenBalance[] {
  if (raw === null || raw === undefined) return [];
  return array(raw, at).map((entry, i) => {
    const entryAt = at.field(`[${i}]`);
    const value = object(entry, entryAt);
    return {
      accountIndex: Number(integer(value.accountIndex, entryAt.field("accountIndex"))),
      mint: address(value.mint, entryAt.field("mint")),
      // Blocks from before 2022 have no owner in their token balances.
      owner: value.owner === undefined || value.owner === null ? null : address(value.owner, entryAt.field("owner")),
    };
  });
}

/** A field path inside one getBlock response, for error messages. */
class Path {
  constructor(
    readonly slot: bigint,
    readonly path = "",
  ) {}

  field(name: string): Path {
    if (name.startsWith("[")) return new Path(this.slot, `${this.path}${name}`);
    return new Path(this.slot, this.path === "" ? name : `${this.path}.${name}`);
  }

  error(message: string): RpcResponseError {
    return new RpcResponseError(
      `Solana RPC getBlock(${this.slot}): ${this.path === "" ? "result" : this.path}: ${message}`,
      this.path === "" ? "result" : this.path,
    );
  }
}

function object(value: unknown, at: Path): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw at.error(`expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, at: Path): unknown[] {
  if (!Array.isArray(value)) throw at.error(`expected an array, got ${describe(value)}`);
  return value;
}

function integer(value: unknown, at: Path): bigint {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw at.error(`expected a non-negative integer, got ${describe(value)}`);
}

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

function address(value: unknown, at: Path): Address {
  if (typeof value !== "string" || !BASE58.test(value))
    throw at.error(`expected a base58 address, got ${describe(value)}`);
  return value as Address;
}

/**
 * A transaction's wire bytes. Only candidate Kin transactions are decoded in
 * full; this cheap framing check catches garbage in the others.
 */
function wireBytes(value: string, at: Path): Uint8Array {
  const bytes = decodeWire(value);
  if (typeof bytes === "string") throw at.error(bytes);
  return bytes;
}

/** {@link wireBytes} without a path: the bytes, or what is wrong with them (a path costs more than the check). */
function decodeWire(value: string): Uint8Array | string {
  const bytes = base64(value);
  if (bytes === null) return `expected base64 transaction bytes, got ${describe(value)}`;
  const signatures = bytes[0] ?? 0;
  if (signatures < 1 || signatures > 127 || bytes.length < 1 + 64 * signatures + 3 + 1 + 32 + 32 + 1) {
    return `expected a signed wire transaction, got ${bytes.length} bytes with ${signatures} signatures`;
  }
  return bytes;
}

/**
 * Base64 bytes, checked by their decoded length rather than a pattern over
 * every character: Node's decoder skips characters outside the alphabet, so
 * any of them leaves fewer bytes than the length promises.
 */
function base64(value: string): Uint8Array | null {
  const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
  const bytes = value.length % 4 === 0 ? Buffer.from(value, "base64") : undefined;
  if (value.length === 0 || bytes === undefined || bytes.length !== (value.length / 4) * 3 - padding) return null;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
