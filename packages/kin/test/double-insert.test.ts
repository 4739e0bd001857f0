import { DoubleInsertError } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import { createSolanaEntry, createStellarEntry, KinVersion, kinHistoryCodec, solanaBody } from "../src/index.js";

const transaction = Uint8Array.from({ length: 120 }, (_, i) => i);
const solana = (changes: { slot?: bigint; confirmed?: boolean; transaction?: Uint8Array; error?: string } = {}) => {
  const entry = createSolanaEntry({
    slot: changes.slot ?? 90_000_123n,
    transaction: changes.transaction ?? transaction,
    ...(changes.error !== undefined ? { transactionError: new TextEncoder().encode(changes.error) } : {}),
  });
  if (changes.confirmed === false) solanaBody(entry).confirmed = false;
  return entry;
};
const stellar = (ledger: number) =>
  createStellarEntry({
    version: KinVersion.KIN3,
    ledger,
    pagingToken: 42n,
    ledgerCloseTime: new Date("2021-01-01T00:00:00Z"),
    networkPassphrase: "Kin Mainnet ; December 2018",
    envelopeXdr: Uint8Array.of(1, 2, 3),
    resultXdr: Uint8Array.of(4, 5),
  });
const reconcile = (stored: ReturnType<typeof solana>, incoming: ReturnType<typeof solana>) =>
  (kinHistoryCodec.reconcile as NonNullable<typeof kinHistoryCodec.reconcile>)(stored, incoming);

describe("agora's double-insert rules in the Kin codec", () => {
  it("keeps an identical entry, Kin2/Kin3 and Solana alike", () => {
    expect(reconcile(stellar(7), stellar(7))).toBe("keep");
    expect(reconcile(solana(), solana())).toBe("keep");
  });

  it("refuses a Kin2/Kin3 entry written again with other contents", () => {
    expect(() => reconcile(stellar(7), stellar(8))).toThrow(DoubleInsertError);
  });

  it("lets a Solana entry be superseded: unconfirmed becomes confirmed, or a newer slot", () => {
    expect(reconcile(solana({ confirmed: false }), solana())).toBe("replace");
    expect(reconcile(solana({ slot: 5n }), solana({ slot: 6n }))).toBe("replace");
    expect(reconcile(solana(), solana({ error: '{"InstructionError":[0,"Custom"]}' }))).toBe("replace");
  });

  it("refuses what agora refuses: slot back to 0, confirmed to unconfirmed, other bytes, another error", () => {
    expect(() => reconcile(solana(), solana({ slot: 0n }))).toThrow(/slot/);
    expect(() => reconcile(solana(), solana({ confirmed: false }))).toThrow(/unconfirmed/);
    expect(() => reconcile(solana(), solana({ transaction: Uint8Array.of(9) }))).toThrow(/transaction bytes/);
    expect(() => reconcile(solana({ error: "a" }), solana({ error: "b" }))).toThrow(/transaction error/);
    expect(() => reconcile(solana({ error: "a" }), solana())).toThrow(DoubleInsertError);
  });
});
