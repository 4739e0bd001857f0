import {
  type Address,
  getBase58Decoder,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getTransactionDecoder,
  getTransactionEncoder,
} from "@solana/kit";
import type { SimulatedBlock, SimulatedTransaction } from "./solana-chain.js";

/** A transaction in getBlock's `json` encoding. */
export interface JsonEncodedTransaction {
  readonly signatures: readonly string[];
  readonly message: {
    readonly header: {
      readonly numRequiredSignatures: number;
      readonly numReadonlySignedAccounts: number;
      readonly numReadonlyUnsignedAccounts: number;
    };
    readonly accountKeys: readonly string[];
    readonly recentBlockhash: string;
    readonly instructions: readonly {
      readonly programIdIndex: number;
      readonly accounts: readonly number[];
      readonly data: string;
    }[];
    readonly addressTableLookups?: readonly {
      readonly accountKey: string;
      readonly writableIndexes: readonly number[];
      readonly readonlyIndexes: readonly number[];
    }[];
  };
}

const base58Bytes = getBase58Encoder();
const base58String = getBase58Decoder();
const messageEncoder = getCompiledTransactionMessageEncoder();
const messageDecoder = getCompiledTransactionMessageDecoder();
const transactionEncoder = getTransactionEncoder();
const transactionDecoder = getTransactionDecoder();

/** The wire bytes of a `json`-encoded transaction: signatures, then the message re-serialised. */
export function wireBytesFromJson(transaction: JsonEncodedTransaction, version: "legacy" | 0): Uint8Array {
  const { message } = transaction;
  const compiled = {
    version,
    header: {
      numSignerAccounts: message.header.numRequiredSignatures,
      numReadonlySignerAccounts: message.header.numReadonlySignedAccounts,
      numReadonlyNonSignerAccounts: message.header.numReadonlyUnsignedAccounts,
    },
    staticAccounts: message.accountKeys as Address[],
    lifetimeToken: message.recentBlockhash,
    instructions: message.instructions.map((ix) => ({
      programAddressIndex: ix.programIdIndex,
      ...(ix.accounts.length > 0 ? { accountIndices: [...ix.accounts] } : {}),
      ...(ix.data.length > 0 ? { data: base58Bytes.encode(ix.data) } : {}),
    })),
    ...(version === 0
      ? {
          addressTableLookups: (message.addressTableLookups ?? []).map((lookup) => ({
            lookupTableAddress: lookup.accountKey as Address,
            writableIndexes: [...lookup.writableIndexes],
            readonlyIndexes: [...lookup.readonlyIndexes],
          })),
        }
      : {}),
  };
  const messageBytes = messageEncoder.encode(compiled as Parameters<typeof messageEncoder.encode>[0]);
  const signatures: Record<string, Uint8Array> = {};
  transaction.signatures.forEach((signature, i) => {
    signatures[message.accountKeys[i] as string] = new Uint8Array(base58Bytes.encode(signature));
  });
  return new Uint8Array(
    transactionEncoder.encode({ messageBytes, signatures } as unknown as Parameters<
      typeof transactionEncoder.encode
    >[0]),
  );
}

/** The `json` encoding of wire bytes (what getBlock returns for `encoding: "json"`). */
export function jsonFromWireBytes(bytes: Uint8Array): JsonEncodedTransaction {
  const transaction = transactionDecoder.decode(bytes);
  const message = messageDecoder.decode(transaction.messageBytes);
  if (message.version !== "legacy" && message.version !== 0)
    throw new Error(`transaction version ${message.version} is not supported`);
  const lookups = "addressTableLookups" in message ? (message.addressTableLookups ?? []) : [];
  return {
    signatures: Object.values(transaction.signatures).map((s) => base58String.decode(s ?? new Uint8Array(64))),
    message: {
      header: {
        numRequiredSignatures: message.header.numSignerAccounts,
        numReadonlySignedAccounts: message.header.numReadonlySignerAccounts,
        numReadonlyUnsignedAccounts: message.header.numReadonlyNonSignerAccounts,
      },
      accountKeys: message.staticAccounts,
      recentBlockhash: message.lifetimeToken,
      instructions: message.instructions.map((ix) => ({
        programIdIndex: ix.programAddressIndex,
        accounts: ix.accountIndices ?? [],
        data: base58String.decode(ix.data ?? new Uint8Array(0)),
      })),
      ...(message.version === 0
        ? {
            addressTableLookups: lookups.map((lookup) => ({
              accountKey: lookup.lookupTableAddress,
              writableIndexes: lookup.writableIndexes,
              readonlyIndexes: lookup.readonlyIndexes,
            })),
          }
        : {}),
    },
  };
}

/**
 * A recorded getBlock result in `json` encoding (as in `../shared/fixtures`)
 * turned into a simulated block with the transactions' real wire bytes.
 */
export function blockFromJsonFixture(slot: bigint, recorded: Record<string, unknown>): SimulatedBlock {
  const transactions = ((recorded.transactions as Record<string, unknown>[] | undefined) ?? []).map(
    (tx): SimulatedTransaction => {
      const version = tx.version === 0 ? 0 : "legacy";
      return {
        bytes: wireBytesFromJson(tx.transaction as JsonEncodedTransaction, version),
        version,
        meta: (tx.meta as Record<string, unknown> | null) ?? null,
      };
    },
  );
  return {
    slot,
    parentSlot: BigInt(recorded.parentSlot as number),
    blockhash: recorded.blockhash as string,
    previousBlockhash: recorded.previousBlockhash as string,
    blockHeight: recorded.blockHeight == null ? null : BigInt(recorded.blockHeight as number),
    blockTime: (recorded.blockTime as number | null | undefined) ?? null,
    transactions,
  };
}
