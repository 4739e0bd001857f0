import { getBase58Decoder } from "@solana/kit";
import type { StellarNetwork } from "../../src/index.js";
import {
  type HorizonRecord,
  KinBlockFactory,
  type SimulatedTransaction,
  SolanaChain,
  StellarLedgers,
  StellarTransactionFactory,
  seededRandom,
} from "../../src/simulator/index.js";
import { loadJson, recordedFailedInitializeAccount, recordedSlot100000000, recordedSlot100000001 } from "./fixtures.js";

const base58 = getBase58Decoder();

/** The id (first signature, base58) of a simulated transaction. */
export function signatureOf(tx: SimulatedTransaction): string {
  return base58.decode(tx.bytes.subarray(1, 65));
}

/** What a Kin ingestor must write for one block. */
export interface BlockExpectation {
  readonly slot: string;
  /** Signatures of the Kin transactions, in block order. */
  readonly kin: readonly string[];
}

export interface SolanaScenario {
  readonly chain: SolanaChain;
  readonly factory: KinBlockFactory;
  readonly expected: readonly BlockExpectation[];
  readonly skipped: readonly string[];
}

/** Kin transactions are those the factory built on the Kin mint (their kind starts with `kin-`). */
export function isKin(tx: SimulatedTransaction): boolean {
  return tx.kind?.startsWith("kin-") === true;
}

/**
 * The shared Solana chain: real mainnet blocks (slots 100000000 and
 * 100000001, and the failed wSOL transaction of slot 241043141) followed by
 * blocks of Kin traffic built with the SDKs, every edge case included, with
 * skipped slots in between.
 */
export async function buildSolanaScenario(dir: string, trafficBlocks = 60): Promise<SolanaScenario> {
  const chain = new SolanaChain();
  chain.add(recordedSlot100000000(dir));
  chain.add(recordedSlot100000001(dir));
  const factory = await KinBlockFactory.create({ seed: "scenario" });
  const failedInit = recordedFailedInitializeAccount(dir).transaction;
  const opened = await factory.openKinAccount(0);
  const blocks: SimulatedTransaction[][] = [
    [
      await factory.transfer(0, 1, 1_000_000n),
      await factory.otherTokenTransfer(1, 2, 5_000n),
      await factory.solTransfer(2, 3, 10_000n),
    ],
    [], // slot 100000003 is skipped: see below
    [await factory.cpiTransfer(1, 2, 250_000n), await factory.transfer(2, 3, 300_000n, { checked: true })],
    [await factory.transfer(3, 4, 75_000n, { version: 0 }), await factory.transfer(4, 5, 10n ** 15n, { fail: true })],
    [failedInit, await factory.batchTransfer(5, [0, 1], 20_000n)],
    [opened.transaction, await factory.mintTo(1, 5_000_000n), await factory.burn(2, 1_000n)],
    [
      await factory.closeAccount(0, opened.account),
      await factory.setOwner(3, 4),
      await factory.otherTokenTransfer(0, 5, 1n, { version: 0 }),
    ],
  ];
  const skipped: bigint[] = [];
  let slot = 100000002n;
  for (const transactions of blocks) {
    if (transactions.length === 0) {
      skipped.push(slot++);
      continue;
    }
    chain.append(transactions, { slot: slot++ });
  }
  const random = seededRandom(7);
  for (let i = 0; i < trafficBlocks; i++) {
    if (i % 5 === 4) skipped.push(slot++);
    chain.append(await factory.traffic(1 + Math.floor(random() * 4), random), { slot: slot++ });
  }
  const expected: BlockExpectation[] = [];
  for (const s of chain.blocksFrom(0n, Number.MAX_SAFE_INTEGER)) {
    const block = chain.block(s);
    if (block) expected.push({ slot: s.toString(), kin: block.transactions.filter(isKin).map(signatureOf) });
  }
  return { chain, factory, expected, skipped: skipped.map(String) };
}

/** A Horizon history and the transaction hashes each ledger must yield. */
export interface StellarScenario {
  readonly ledgers: StellarLedgers;
  readonly network: Pick<StellarNetwork, "version" | "passphrase">;
  readonly expected: readonly { readonly ledger: number; readonly hashes: readonly string[] }[];
}

/**
 * Stellar pubnet ledgers 7838-7880 with the five real transactions recorded
 * for ledgers 7841, 7855, 7863, 7871 and 7874 (their own records, paging
 * tokens and all), in ledgers built from the recorded ledger 898826 layout.
 */
export function pubnetScenario(dir: string): StellarScenario {
  const page = loadJson<{ _embedded: { records: HorizonRecord[] } }>(
    dir,
    "horizon/stellar-pubnet-transactions-page-2015.json",
  );
  const byLedger = new Map<number, HorizonRecord[]>();
  for (const record of page._embedded.records) {
    const ledger = record.ledger as number;
    byLedger.set(ledger, [...(byLedger.get(ledger) ?? []), record]);
  }
  const ledgers = new StellarLedgers();
  const start = Date.parse("2015-10-01T00:00:00Z");
  for (let sequence = 7838; sequence <= 7880; sequence++) {
    ledgers.append(byLedger.get(sequence) ?? [], { sequence, closedAt: new Date(start + (sequence - 7838) * 5000) });
  }
  return {
    ledgers,
    network: { version: 3, passphrase: "Public Global Stellar Network ; September 2015" },
    expected: expectations(ledgers),
  };
}

/** A Kin2 or Kin3 history of `count` ledgers with signed Kin payments, merges, trustlines and failures. */
export function kinScenario(
  network: StellarNetwork,
  first: number,
  count: number,
): StellarScenario & { txs: StellarTransactionFactory } {
  const txs = new StellarTransactionFactory(network, `scenario-${network.version}`);
  const ledgers = new StellarLedgers();
  for (let i = 0; i < count; i++) {
    const transactions =
      i % 4 === 0
        ? []
        : i % 4 === 1
          ? [txs.payment(i % 7, (i + 1) % 7, "10.5"), txs.payment((i + 2) % 7, (i + 3) % 7, "1", { failed: true })]
          : i % 4 === 2
            ? [
                txs.build(i % 5, [
                  { type: "createAccount", to: 10 + i, startingBalance: "1" },
                  { type: "payment", to: 2, amount: "3", source: 6 },
                ]),
              ]
            : [
                txs.build(3, [{ type: "changeTrust" }]),
                txs.build(20 + i, [{ type: "accountMerge", to: 1 }]),
                txs.payment(1, 2, "0.25"),
              ];
    ledgers.append(transactions, i === 0 ? { sequence: first } : {});
  }
  return { ledgers, network, expected: expectations(ledgers), txs };
}

function expectations(ledgers: StellarLedgers): { ledger: number; hashes: string[] }[] {
  const range = ledgers.range;
  if (range === null) return [];
  const out: { ledger: number; hashes: string[] }[] = [];
  for (let s = range.first; s <= range.last; s++) {
    out.push({ ledger: s, hashes: (ledgers.get(s)?.transactions ?? []).map((tx) => tx.hash as string) });
  }
  return out;
}
