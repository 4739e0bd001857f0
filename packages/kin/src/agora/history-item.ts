import { create } from "@bufbuild/protobuf";
import { StellarTransactionSchema, TransactionSchema } from "../gen/agora/common/v4/model_pb.js";
import {
  type HistoryItem,
  type HistoryItem_Payment,
  HistoryItem_PaymentSchema,
  HistoryItemSchema,
} from "../gen/agora/transaction/v4/transaction_service_pb.js";
import type { Entry } from "../gen/model_pb.js";
import { orderingKey, transactionId } from "../model/codec.js";
import { solanaBody, stellarBody } from "../model/entry.js";
import { solanaAgoraTransfers } from "../model/solana.js";
import { stellarPayments } from "../model/stellar.js";
import { transactionErrorOf } from "./transaction-error.js";

/**
 * An entry as a v4 history item, field for field as agora v0.2.7 builds it:
 * its id, its ordering key as the cursor, the raw Solana transaction (or
 * Stellar envelope and result), the mapped transaction error, and the payments
 * agora reads (top-level SPL Token Transfers, or Stellar payment operations).
 * Unlike agora, the item also carries the block's time when the entry has it.
 * Throws `CorruptRecordError` for an entry whose transaction does not decode.
 */
export function historyItemOf(entry: Entry): HistoryItem {
  const item = create(HistoryItemSchema, {
    transactionId: { value: transactionId(entry) },
    cursor: { value: orderingKey(entry) },
  });
  if (entry.kind.case === "stellar") {
    const stellar = stellarBody(entry);
    item.rawTransaction = {
      case: "stellarTransaction",
      value: create(StellarTransactionSchema, { envelopeXdr: stellar.envelopeXdr, resultXdr: stellar.resultXdr }),
    };
    item.payments = stellarPayments(entry).map(paymentOf);
    if (stellar.ledgerCloseTime) item.transactionTime = stellar.ledgerCloseTime;
    return item;
  }
  const solana = solanaBody(entry);
  item.rawTransaction = { case: "solanaTransaction", value: create(TransactionSchema, { value: solana.transaction }) };
  item.payments = solanaAgoraTransfers(entry).map(paymentOf);
  if (solana.transactionError.length > 0) item.transactionError = transactionErrorOf(solana.transactionError);
  if (solana.blockTime) item.transactionTime = solana.blockTime;
  return item;
}

function paymentOf(payment: {
  source: Uint8Array;
  destination: Uint8Array;
  amount: bigint;
  index: number;
}): HistoryItem_Payment {
  return create(HistoryItem_PaymentSchema, {
    source: { value: payment.source },
    destination: { value: payment.destination },
    // agora casts the unsigned amount to the field's int64.
    amount: BigInt.asIntN(64, payment.amount),
    index: payment.index,
  });
}
