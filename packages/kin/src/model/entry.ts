import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CorruptRecordError, InvalidArgumentError } from "@tidemark/core";
import {
  type Entry,
  EntrySchema,
  KinVersion,
  type SolanaEntry,
  SolanaEntrySchema,
  type SolanaTransactionMeta,
  type StellarEntry,
  StellarEntrySchema,
} from "../gen/model_pb.js";

/** What {@link createStellarEntry} needs: one Horizon transaction record of one ledger. */
export interface StellarEntryInit {
  readonly version: KinVersion.KIN2 | KinVersion.KIN3;
  readonly ledger: number | bigint;
  readonly pagingToken: bigint;
  readonly ledgerCloseTime: Date;
  readonly networkPassphrase: string;
  readonly envelopeXdr: Uint8Array;
  readonly resultXdr: Uint8Array;
}

/** What {@link createSolanaEntry} needs: one transaction of one block. */
export interface SolanaEntryInit {
  readonly slot: bigint;
  /** The transaction's wire bytes (signatures, then message). */
  readonly transaction: Uint8Array;
  /** The RPC's TransactionError as JSON bytes; omit or leave empty when the transaction succeeded. */
  readonly transactionError?: Uint8Array;
  /** The block's time, when the RPC knows it. */
  readonly blockTime?: Date | null;
  /** tidemark's extension; leave out for an entry exactly as agora writes it. */
  readonly meta?: SolanaTransactionMeta;
}

export function createStellarEntry(init: StellarEntryInit): Entry {
  if (init.version !== KinVersion.KIN2 && init.version !== KinVersion.KIN3) {
    throw new InvalidArgumentError(`a Stellar entry must be KIN2 or KIN3, got version ${init.version}`);
  }
  const stellar: StellarEntry = create(StellarEntrySchema, {
    ledger: BigInt(init.ledger),
    pagingToken: init.pagingToken,
    ledgerCloseTime: timestampFromDate(init.ledgerCloseTime),
    networkPassphrase: init.networkPassphrase,
    envelopeXdr: init.envelopeXdr,
    resultXdr: init.resultXdr,
  });
  return create(EntrySchema, { version: init.version, kind: { case: "stellar", value: stellar } });
}

export function createSolanaEntry(init: SolanaEntryInit): Entry {
  const solana: SolanaEntry = create(SolanaEntrySchema, {
    slot: init.slot,
    // agora marks every ingested (finalized) transaction confirmed.
    confirmed: true,
    transaction: init.transaction,
    transactionError: init.transactionError ?? new Uint8Array(0),
    ...(init.blockTime ? { blockTime: timestampFromDate(init.blockTime) } : {}),
    ...(init.meta ? { meta: init.meta } : {}),
  });
  return create(EntrySchema, { version: KinVersion.KIN4, kind: { case: "solana", value: solana } });
}

/** The protobuf bytes of `entry`; fields 1-5 are encoded exactly as Go's `proto.Marshal` encodes agora's model. */
export function encodeEntry(entry: Entry): Uint8Array {
  return toBinary(EntrySchema, entry);
}

/** Parses protobuf bytes written by {@link encodeEntry} or by agora; throws {@link CorruptRecordError} on anything else. */
export function decodeEntry(bytes: Uint8Array): Entry {
  let entry: Entry;
  try {
    entry = fromBinary(EntrySchema, bytes);
  } catch (error) {
    throw new CorruptRecordError(`Kin history entry: not a valid Entry protobuf (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (entry.kind.case === undefined) {
    throw new CorruptRecordError(
      `Kin history entry of version ${entry.version} has neither a stellar nor a solana body`,
    );
  }
  return entry;
}

/** The Stellar body of `entry`; throws {@link InvalidArgumentError} when it has another kind. */
export function stellarBody(entry: Entry): StellarEntry {
  if (entry.kind.case !== "stellar") {
    throw new InvalidArgumentError(`expected a Stellar (KIN2/KIN3) entry, got a ${entry.kind.case ?? "empty"} one`);
  }
  return entry.kind.value;
}

/** The Solana body of `entry`; throws {@link InvalidArgumentError} when it has another kind. */
export function solanaBody(entry: Entry): SolanaEntry {
  if (entry.kind.case !== "solana") {
    throw new InvalidArgumentError(`expected a Solana (KIN4) entry, got a ${entry.kind.case ?? "empty"} one`);
  }
  return entry.kind.value;
}
