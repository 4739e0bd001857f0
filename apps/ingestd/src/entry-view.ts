import { getBase58Decoder } from "@solana/codecs-strings";
import { type Entry, solanaBody, stellarBody, transactionId } from "@tidemark/kin";

const base58 = getBase58Decoder();

/** The stable JSON shape `tidemark history --json` prints, one object per line. */
export type EntryView =
  | {
      readonly version: string;
      readonly slot: string;
      readonly txId: string;
      readonly transaction: string;
      readonly transactionError: string | null;
      readonly blockTime: string | null;
    }
  | {
      readonly version: string;
      readonly ledger: string;
      readonly pagingToken: string;
      readonly txId: string;
      readonly envelopeXdr: string;
      readonly resultXdr: string;
      readonly blockTime: string | null;
    };

export function entryView(entry: Entry, versionName: string): EntryView {
  const id = transactionId(entry);
  if (entry.kind.case === "solana") {
    const body = solanaBody(entry);
    return {
      version: versionName,
      slot: body.slot.toString(),
      txId: base58.decode(id),
      transaction: Buffer.from(body.transaction).toString("base64"),
      transactionError: body.transactionError.length > 0 ? Buffer.from(body.transactionError).toString("utf8") : null,
      blockTime: timestamp(body.blockTime),
    };
  }
  const body = stellarBody(entry);
  return {
    version: versionName,
    ledger: body.ledger.toString(),
    pagingToken: body.pagingToken.toString(),
    txId: Buffer.from(id).toString("hex"),
    envelopeXdr: Buffer.from(body.envelopeXdr).toString("base64"),
    resultXdr: Buffer.from(body.resultXdr).toString("base64"),
    blockTime: timestamp(body.ledgerCloseTime),
  };
}

function timestamp(value: { seconds: bigint; nanos: number } | undefined): string | null {
  if (value === undefined) return null;
  return new Date(Number(value.seconds) * 1000 + Math.floor(value.nanos / 1e6)).toISOString();
}
