import { createHash } from "node:crypto";

/** A Horizon record as JSON (`_links` and all). */
export type HorizonRecord = Record<string, unknown>;

/** A ledger as a simulated Horizon serves it: its record and its transaction records, in order. */
export interface SimulatedLedger {
  readonly record: HorizonRecord;
  readonly transactions: readonly HorizonRecord[];
}

/** What a transaction record needs; the rest of Horizon's fields are filled in. */
export interface TransactionRecordInit {
  readonly hash: string;
  readonly envelopeXdr: string;
  readonly resultXdr: string;
  readonly sourceAccount?: string;
  readonly successful?: boolean;
  readonly operationCount?: number;
}

type Listener = (ledger: SimulatedLedger) => void;

/**
 * An in-memory Stellar ledger history for a simulated Horizon: a contiguous
 * run of ledgers (as Horizon's own history is) with their transaction records.
 * Listeners hear about every appended ledger, which feeds event streams.
 */
export class StellarLedgers {
  readonly #ledgers = new Map<number, SimulatedLedger>();
  readonly #listeners = new Set<Listener>();
  #first: number | null = null;
  #last: number | null = null;

  /** The oldest and newest ledger sequences (null when empty). */
  get range(): { readonly first: number; readonly last: number } | null {
    return this.#first === null || this.#last === null ? null : { first: this.#first, last: this.#last };
  }

  get(sequence: number): SimulatedLedger | undefined {
    return this.#ledgers.get(sequence);
  }

  /** Adds a ledger; it must follow the newest one (Horizon histories have no gaps). */
  add(ledger: SimulatedLedger): void {
    const sequence = ledger.record.sequence as number;
    if (this.#last !== null && sequence !== this.#last + 1) {
      throw new Error(`ledger ${sequence} does not follow ledger ${this.#last}`);
    }
    this.#ledgers.set(sequence, ledger);
    this.#first ??= sequence;
    this.#last = sequence;
    for (const listener of this.#listeners) listener(ledger);
  }

  /**
   * Appends a ledger after the newest one (or at `sequence` for the first)
   * holding `transactions`, whose paging tokens and ledger fields are set to
   * their position, as Horizon numbers them.
   */
  append(
    transactions: readonly TransactionRecordInit[] | readonly HorizonRecord[] = [],
    options: { sequence?: number; closedAt?: Date } = {},
  ): SimulatedLedger {
    const sequence = this.#last === null ? (options.sequence ?? 1) : this.#last + 1;
    const previous = this.#last === null ? undefined : this.#ledgers.get(this.#last);
    const closedAt =
      options.closedAt ??
      (previous ? new Date(Date.parse(previous.record.closed_at as string) + 5000) : new Date("2019-06-01T00:00:00Z"));
    const records = transactions.map((tx, i) => {
      if (!("envelope_xdr" in tx)) return transactionRecord(tx as TransactionRecordInit, sequence, i, closedAt);
      // A recorded record that already belongs to this ledger keeps its own fields.
      const own = (tx as HorizonRecord).paging_token;
      return typeof own === "string" && BigInt(own) >> 32n === BigInt(sequence)
        ? (tx as HorizonRecord)
        : placeRecord(tx as HorizonRecord, sequence, i, closedAt);
    });
    const ledger = {
      record: ledgerRecord(
        sequence,
        closedAt,
        records,
        (previous?.record.hash as string | undefined) ?? ledgerHash(sequence - 1),
      ),
      transactions: records,
    };
    this.add(ledger);
    return ledger;
  }

  /** Up to `limit` ledgers after `cursor` (a sequence) in `order`. */
  page(after: number | null, order: "asc" | "desc", limit: number): SimulatedLedger[] {
    const range = this.range;
    if (range === null) return [];
    const out: SimulatedLedger[] = [];
    if (order === "asc") {
      for (let s = Math.max(range.first, (after ?? 0) + 1); s <= range.last && out.length < limit; s++)
        out.push(this.#ledgers.get(s) as SimulatedLedger);
    } else {
      for (
        let s = Math.min(range.last, (after ?? Number.MAX_SAFE_INTEGER) - 1);
        s >= range.first && out.length < limit;
        s--
      ) {
        out.push(this.#ledgers.get(s) as SimulatedLedger);
      }
    }
    return out;
  }

  /** Calls `listener` for every ledger added from now on; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A deterministic ledger hash. */
export function ledgerHash(sequence: number): string {
  return createHash("sha256").update(`tidemark-ledger-${sequence}`).digest("hex");
}

/** A Horizon ledger record in the current field set (successful/failed counts). */
export function ledgerRecord(
  sequence: number,
  closedAt: Date,
  transactions: readonly HorizonRecord[],
  previousHash: string,
): HorizonRecord {
  const successful = transactions.filter((t) => t.successful !== false).length;
  const hash = ledgerHash(sequence);
  return {
    _links: {
      self: { href: `/ledgers/${sequence}` },
      transactions: { href: `/ledgers/${sequence}/transactions{?cursor,limit,order}`, templated: true },
      operations: { href: `/ledgers/${sequence}/operations{?cursor,limit,order}`, templated: true },
      payments: { href: `/ledgers/${sequence}/payments{?cursor,limit,order}`, templated: true },
      effects: { href: `/ledgers/${sequence}/effects{?cursor,limit,order}`, templated: true },
    },
    id: hash,
    paging_token: (BigInt(sequence) << 32n).toString(),
    hash,
    prev_hash: previousHash,
    sequence,
    successful_transaction_count: successful,
    failed_transaction_count: transactions.length - successful,
    operation_count: transactions.reduce((n, t) => n + ((t.operation_count as number | undefined) ?? 1), 0),
    tx_set_operation_count: transactions.reduce((n, t) => n + ((t.operation_count as number | undefined) ?? 1), 0),
    closed_at: closedAt.toISOString().replace(".000Z", "Z"),
    total_coins: "10000000000000.00000",
    fee_pool: "1000.00000",
    base_fee_in_stroops: 100,
    base_reserve_in_stroops: 0,
    max_tx_set_size: 500,
    protocol_version: 9,
  };
}

/** Moves a recorded transaction record to `ledger` at position `index` (paging token and ledger fields). */
export function placeRecord(record: HorizonRecord, ledger: number, index: number, closedAt: Date): HorizonRecord {
  const pagingToken = ((BigInt(ledger) << 32n) | (BigInt(index + 1) << 12n)).toString();
  const links = (record._links ?? {}) as Record<string, unknown>;
  return {
    ...record,
    _links: { ...links, ledger: { href: `/ledgers/${ledger}` } },
    paging_token: pagingToken,
    ledger,
    created_at: closedAt.toISOString().replace(".000Z", "Z"),
  };
}

function transactionRecord(init: TransactionRecordInit, ledger: number, index: number, closedAt: Date): HorizonRecord {
  return placeRecord(
    {
      _links: {
        self: { href: `/transactions/${init.hash}` },
        account: { href: `/accounts/${init.sourceAccount ?? ""}` },
        ledger: { href: `/ledgers/${ledger}` },
      },
      id: init.hash,
      hash: init.hash,
      successful: init.successful ?? true,
      source_account: init.sourceAccount ?? "",
      fee_charged: 100,
      max_fee: 100,
      operation_count: init.operationCount ?? 1,
      envelope_xdr: init.envelopeXdr,
      result_xdr: init.resultXdr,
      memo_type: "none",
      signatures: [],
    },
    ledger,
    index,
    closedAt,
  );
}
