import type { xdr } from "@stellar/stellar-sdk";
import { CorruptRecordError } from "@tidemark/core";
import type { Entry, StellarEntry } from "../gen/model_pb.js";
import { stellarSdk } from "../stellar/sdk.js";
import { stellarBody } from "./entry.js";
import { ed25519PublicKeyStrKey } from "./strkey.js";

type EnvelopeWire = ReturnType<xdr.TransactionEnvelope["toXdrObject"]>;
type MuxedWire = { type: 0; ed25519: Uint8Array } | { type: 256; med25519: { ed25519: Uint8Array } };
type OperationWire = { sourceAccount: MuxedWire | null; body: { type: number } & Record<string, unknown> };

// Operation types agora reads accounts from (stellar-xdr OperationType).
const CREATE_ACCOUNT = 0;
const PAYMENT = 1;
const ACCOUNT_MERGE = 8;

/**
 * The transaction id agora uses: the transaction hash under the entry's
 * network passphrase (for a fee-bump envelope, the fee-bump hash, as Horizon reports it).
 */
export function stellarTransactionId(entry: Entry): Uint8Array {
  const stellar = stellarBody(entry);
  const envelope = parseEnvelope(stellar);
  try {
    return new Uint8Array(stellarSdk().TransactionBuilder.fromXDR(envelope, stellar.networkPassphrase).hash());
  } catch (error) {
    throw corrupt(stellar, `cannot hash the envelope (${(error as Error).message})`, error);
  }
}

/** agora's ordering key: version byte + big-endian u64 paging token (9 bytes). */
export function stellarOrderingKey(entry: Entry): Uint8Array {
  const stellar = stellarBody(entry);
  const key = new Uint8Array(9);
  key[0] = entry.version;
  new DataView(key.buffer).setBigUint64(1, stellar.pagingToken);
  return key;
}

/**
 * The accounts agora indexes a Stellar transaction under: the transaction's
 * source, every operation source, and the destinations of payment,
 * create-account and account-merge operations (G... strkeys, first seen first).
 * Muxed accounts, which agora's XDR predates, count as their underlying G account.
 */
export function stellarAccounts(entry: Entry): string[] {
  const stellar = stellarBody(entry);
  const wire = parseEnvelope(stellar).toXdrObject() as EnvelopeWire;
  const accounts = new Set<string>();
  const add = (key: Uint8Array) => accounts.add(ed25519PublicKeyStrKey(key));
  const addOperations = (operations: readonly OperationWire[]) => {
    for (const operation of operations) {
      if (operation.sourceAccount) add(muxedKey(operation.sourceAccount));
      const body = operation.body;
      if (body.type === PAYMENT) add(muxedKey((body.paymentOp as { destination: MuxedWire }).destination));
      else if (body.type === CREATE_ACCOUNT) {
        add((body.createAccountOp as { destination: { ed25519: Uint8Array } }).destination.ed25519);
      } else if (body.type === ACCOUNT_MERGE) add(muxedKey(body.destination as MuxedWire));
    }
  };
  if (wire.type === 0) {
    add(wire.v0.tx.sourceAccountEd25519 as Uint8Array);
    addOperations(wire.v0.tx.operations as unknown as OperationWire[]);
  } else if (wire.type === 2) {
    add(muxedKey(wire.v1.tx.sourceAccount as MuxedWire));
    addOperations(wire.v1.tx.operations as unknown as OperationWire[]);
  } else {
    add(muxedKey(wire.feeBump.tx.feeSource as MuxedWire));
    const inner = wire.feeBump.tx.innerTx.v1.tx;
    add(muxedKey(inner.sourceAccount as MuxedWire));
    addOperations(inner.operations as unknown as OperationWire[]);
  }
  return [...accounts];
}

/** A payment operation as agora reads it: 32-byte ed25519 accounts, the raw XDR amount, the operation's index. */
export interface StellarPayment {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly amount: bigint;
  readonly index: number;
}

/**
 * The payment operations of a Stellar transaction, as agora v0.2.7 reports them
 * in a history item: the operation's source (or the transaction's), its
 * destination and its amount as the XDR holds it; other operations are skipped
 * but keep their place in the indexes.
 */
export function stellarPayments(entry: Entry): StellarPayment[] {
  const stellar = stellarBody(entry);
  const wire = parseEnvelope(stellar).toXdrObject() as EnvelopeWire;
  let source: Uint8Array;
  let operations: readonly OperationWire[];
  if (wire.type === 0) {
    source = wire.v0.tx.sourceAccountEd25519 as Uint8Array;
    operations = wire.v0.tx.operations as unknown as OperationWire[];
  } else if (wire.type === 2) {
    source = muxedKey(wire.v1.tx.sourceAccount as MuxedWire);
    operations = wire.v1.tx.operations as unknown as OperationWire[];
  } else {
    const inner = wire.feeBump.tx.innerTx.v1.tx;
    source = muxedKey(inner.sourceAccount as MuxedWire);
    operations = inner.operations as unknown as OperationWire[];
  }
  const payments: StellarPayment[] = [];
  operations.forEach((operation, index) => {
    if (operation.body.type !== PAYMENT) return;
    const payment = operation.body.paymentOp as { destination: MuxedWire; amount: bigint | string | number };
    payments.push({
      source: operation.sourceAccount ? muxedKey(operation.sourceAccount) : source,
      destination: muxedKey(payment.destination),
      amount: BigInt(payment.amount),
      index,
    });
  });
  return payments;
}

function muxedKey(account: MuxedWire): Uint8Array {
  return account.type === 0 ? account.ed25519 : account.med25519.ed25519;
}

function parseEnvelope(stellar: StellarEntry): xdr.TransactionEnvelope {
  if (stellar.envelopeXdr.length === 0) throw corrupt(stellar, "the envelope XDR is empty");
  try {
    return stellarSdk().xdr.TransactionEnvelope.fromXDR(stellar.envelopeXdr);
  } catch (error) {
    throw corrupt(stellar, `the envelope XDR does not parse (${(error as Error).message})`, error);
  }
}

function corrupt(stellar: StellarEntry, why: string, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(
    `Stellar entry of ledger ${stellar.ledger} (paging token ${stellar.pagingToken}): ${why}`,
    cause === undefined ? undefined : { cause },
  );
}
