import type { Address } from "@solana/kit";
import { CorruptRecordError } from "@tidemark/core";
import type { Entry, SolanaEntry } from "../gen/model_pb.js";
import { solanaBody } from "./entry.js";
import {
  authorityOf,
  decodeTokenInstruction,
  KIN_MINT_ADDRESS,
  mintOf,
  TOKEN_PROGRAM_ADDRESS,
  type TokenInstruction,
  tokenAccountsOf,
} from "./spl-token.js";
import { ed25519PublicKeyStrKey } from "./strkey.js";
import { addressOf, keyOf, parseWireTransaction, type WireTransaction } from "./wire.js";

/** One instruction of a transaction, top-level or invoked by a program (inner). */
export interface CompiledInstructionView {
  /** The top-level instruction it is, or that invoked it. */
  readonly outerIndex: number;
  /** Its position among the inner instructions kept for `outerIndex`, or null at top level. */
  readonly innerIndex: number | null;
  readonly programIndex: number;
  readonly accounts: readonly number[];
  readonly data: Uint8Array;
}

/** A Solana transaction taken apart: its keys (static, then loaded) and instructions. */
export interface DecodedSolanaTransaction {
  readonly version: "legacy" | 0;
  readonly signatures: readonly Uint8Array[];
  /** Static account keys, then the lookup-table addresses (writable, then read-only). */
  readonly accountKeys: readonly Address[];
  readonly staticKeyCount: number;
  /** Top-level instructions, then the kept inner ones. */
  readonly instructions: readonly CompiledInstructionView[];
}

/** A token account as the transaction's metadata describes it. */
export interface TokenAccountInfo {
  readonly mint: Address | null;
  readonly owner: Address | null;
}

/** An SPL Token instruction with what tidemark knows about its accounts. */
export interface KinTokenInstruction {
  readonly outerIndex: number;
  readonly innerIndex: number | null;
  readonly instruction: TokenInstruction;
  /** The mint it moves, from the instruction itself or from the block's token-balance metadata; null when unknown. */
  readonly mint: Address | null;
  /** Its token accounts (base58) with their owners where known. */
  readonly tokenAccounts: readonly { readonly address: Address; readonly owner: Address | null }[];
  /** The signer that authorised it. */
  readonly authority: Address;
}

/** The first signature of a wire transaction, which Solana (and agora) use as its id. */
export function solanaTransactionId(entry: Entry): Uint8Array {
  const solana = solanaBody(entry);
  const bytes = solana.transaction;
  const [count, offset] = readShortU16(bytes, 0);
  if (count === null || count < 1 || bytes.length < offset + 64) {
    throw corrupt(solana, "the transaction has no signature");
  }
  return bytes.slice(offset, offset + 64);
}

/** agora's ordering key: version byte (4) + big-endian u64 slot + the first 8 bytes of the transaction id. */
export function solanaOrderingKey(entry: Entry): Uint8Array {
  const solana = solanaBody(entry);
  const key = new Uint8Array(17);
  key[0] = entry.version;
  new DataView(key.buffer).setBigUint64(1, solana.slot);
  key.set(solanaTransactionId(entry).subarray(0, 8), 9);
  return key;
}

/** Takes apart the entry's wire transaction, adding the lookup-table addresses and inner instructions its metadata kept. */
export function decodeSolanaTransaction(entry: Entry): DecodedSolanaTransaction {
  const solana = solanaBody(entry);
  const wire = wireTransactionOf(solana);
  const meta = solana.meta;
  const loaded = meta ? [...meta.loadedWritable, ...meta.loadedReadonly].map(addressOf) : [];
  const instructions: CompiledInstructionView[] = wire.instructions.map((instruction, outerIndex) => ({
    outerIndex,
    innerIndex: null,
    programIndex: instruction.programIndex,
    accounts: instruction.accounts,
    data: instruction.data,
  }));
  const innerCounts = new Map<number, number>();
  for (const inner of meta?.innerInstructions ?? []) {
    const innerIndex = innerCounts.get(inner.outerIndex) ?? 0;
    innerCounts.set(inner.outerIndex, innerIndex + 1);
    instructions.push({
      outerIndex: inner.outerIndex,
      innerIndex,
      programIndex: inner.programIndex,
      accounts: [...inner.accounts],
      data: inner.data,
    });
  }
  return {
    version: wire.version,
    signatures: wire.signatures,
    accountKeys: [...wire.staticKeys.map(addressOf), ...loaded],
    staticKeyCount: wire.staticKeys.length,
    instructions,
  };
}

/** The entry's wire transaction taken apart, or CorruptRecordError. */
function wireTransactionOf(solana: SolanaEntry): WireTransaction {
  try {
    return parseWireTransaction(solana.transaction);
  } catch (error) {
    throw corrupt(solana, `the transaction does not decode (${(error as Error).message})`, error);
  }
}

/** A top-level SPL Token Transfer as agora reads it: 32-byte token accounts, the amount, the instruction's index. */
export interface AgoraTransfer {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly amount: bigint;
  readonly index: number;
}

/**
 * The transfers agora v0.2.7 sees in a Solana transaction (its
 * `DecompileTransferAccount`): top-level SPL Token Transfer instructions with 9
 * data bytes and at least 3 accounts, whatever their mint. agora indexes the
 * transaction under their accounts and reports them as a history item's payments.
 */
export function solanaAgoraTransfers(entry: Entry): AgoraTransfer[] {
  const solana = solanaBody(entry);
  const wire = wireTransactionOf(solana);
  const loaded = solana.meta ? [...solana.meta.loadedWritable, ...solana.meta.loadedReadonly] : [];
  return agoraTransfersOf(wire, loaded).map((t) => ({
    ...t,
    source: t.source.slice(),
    destination: t.destination.slice(),
  }));
}

const TOKEN_PROGRAM_KEY = keyOf(TOKEN_PROGRAM_ADDRESS);

/**
 * {@link solanaAgoraTransfers} of a parsed wire transaction whose lookup-table
 * addresses are `loaded` (writable, then read-only), on the raw 32-byte keys:
 * the accounts it returns are views into the transaction's bytes.
 */
export function agoraTransfersOf(wire: WireTransaction, loaded: readonly Uint8Array[]): AgoraTransfer[] {
  const keyAt = (index: number) =>
    index < wire.staticKeys.length ? wire.staticKeys[index] : loaded[index - wire.staticKeys.length];
  const transfers: AgoraTransfer[] = [];
  wire.instructions.forEach((instruction, index) => {
    const data = instruction.data;
    if (data[0] !== 3 || data.length !== 9 || instruction.accounts.length < 3) return;
    if (!sameKey(keyAt(instruction.programIndex), TOKEN_PROGRAM_KEY)) return;
    const source = keyAt(instruction.accounts[0] as number);
    const destination = keyAt(instruction.accounts[1] as number);
    if (source === undefined || destination === undefined) return;
    transfers.push({
      source,
      destination,
      amount: new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1, true),
      index,
    });
  });
  return transfers;
}

function sameKey(key: Uint8Array | undefined, expected: Uint8Array): boolean {
  if (key === undefined || key.length !== expected.length) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== expected[i]) return false;
  return true;
}

/**
 * The accounts agora v0.2.7 indexes a Solana transaction under: source and
 * destination of every transfer {@link solanaAgoraTransfers} finds, encoded as
 * Stellar G... strkeys. Kept so existing agora account indexes work.
 */
export function solanaAgoraAccounts(entry: Entry): string[] {
  const accounts = new Set<string>();
  for (const transfer of solanaAgoraTransfers(entry)) {
    accounts.add(ed25519PublicKeyStrKey(transfer.source));
    accounts.add(ed25519PublicKeyStrKey(transfer.destination));
  }
  return [...accounts];
}

/** The token accounts the entry's metadata lists, by address (empty for entries written by agora). */
export function solanaTokenAccounts(entry: Entry): Map<Address, TokenAccountInfo> {
  const out = new Map<Address, TokenAccountInfo>();
  for (const account of solanaBody(entry).meta?.tokenAccounts ?? []) {
    out.set(addressOf(account.address), {
      mint: account.mint.length === 32 ? addressOf(account.mint) : null,
      owner: account.owner.length === 32 ? addressOf(account.owner) : null,
    });
  }
  return out;
}

/** Every SPL Token instruction of the transaction the Kin ingestor understands, top-level and inner, in execution order. */
export function solanaTokenInstructions(entry: Entry): KinTokenInstruction[] {
  const decoded = decodeSolanaTransaction(entry);
  const tokenAccounts = solanaTokenAccounts(entry);
  const out: KinTokenInstruction[] = [];
  for (const compiled of decoded.instructions) {
    if (decoded.accountKeys[compiled.programIndex] !== TOKEN_PROGRAM_ADDRESS) continue;
    const accounts: Address[] = [];
    for (const index of compiled.accounts) {
      const key = decoded.accountKeys[index];
      if (key === undefined) break;
      accounts.push(key);
    }
    const instruction = decodeTokenInstruction(accounts, compiled.data);
    if (instruction === null) continue;
    const owners = tokenAccountsOf(instruction).map((address) => ({
      address,
      owner: tokenAccounts.get(address)?.owner ?? (instruction.kind === "initializeAccount" ? instruction.owner : null),
    }));
    out.push({
      outerIndex: compiled.outerIndex,
      innerIndex: compiled.innerIndex,
      instruction,
      mint: resolveMint(instruction, tokenAccounts),
      tokenAccounts: owners,
      authority: authorityOf(instruction),
    });
  }
  // Inner instructions run while their outer one executes: order by outer index, then inner position.
  return out.sort((a, b) => a.outerIndex - b.outerIndex || (a.innerIndex ?? -1) - (b.innerIndex ?? -1));
}

/**
 * The token instructions that make the transaction a Kin transaction: those
 * whose mint is `mint`. An instruction whose mint is unknown counts only for
 * entries without tidemark's metadata (written by agora, which stored Kin
 * transactions only).
 */
export function kinInstructions(entry: Entry, mint: Address = KIN_MINT_ADDRESS): KinTokenInstruction[] {
  const hasMeta = solanaBody(entry).meta !== undefined;
  return solanaTokenInstructions(entry).filter((i) => (i.mint === null ? !hasMeta : i.mint === mint));
}

/**
 * The Solana view of a Kin entry: the base58 token accounts of its Kin
 * instructions and their owners (or, when the owner is unknown, the signer that
 * authorised the instruction), first seen first.
 */
export function solanaAccounts(entry: Entry, mint: Address = KIN_MINT_ADDRESS): Address[] {
  const accounts = new Set<Address>();
  for (const kept of kinInstructions(entry, mint)) {
    for (const { address, owner } of kept.tokenAccounts) {
      accounts.add(address);
      if (owner !== null) accounts.add(owner);
    }
    if (kept.tokenAccounts.some((a) => a.owner === null)) accounts.add(kept.authority);
  }
  return [...accounts];
}

function resolveMint(instruction: TokenInstruction, accounts: Map<Address, TokenAccountInfo>): Address | null {
  const own = mintOf(instruction);
  if (own !== null) return own;
  if (instruction.kind === "setAuthority") {
    const info = accounts.get(instruction.account);
    if (info?.mint) return info.mint;
    // The mint and freeze authorities (types 0 and 1) are set on the mint account itself.
    return instruction.authorityType <= 1 ? instruction.account : null;
  }
  for (const address of tokenAccountsOf(instruction)) {
    const mint = accounts.get(address)?.mint;
    if (mint) return mint;
  }
  return null;
}

/** Solana's compact-u16 length prefix: returns [value, next offset], value null when truncated. */
function readShortU16(bytes: Uint8Array, start: number): [number | null, number] {
  let value = 0;
  for (let i = 0; i < 3; i++) {
    const byte = bytes[start + i];
    if (byte === undefined) return [null, start + i];
    value |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) === 0) return [value, start + i + 1];
  }
  return [null, start + 3];
}

function corrupt(solana: SolanaEntry, why: string, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(
    `Solana entry of slot ${solana.slot}: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}
