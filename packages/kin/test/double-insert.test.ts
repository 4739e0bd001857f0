import { DoubleInsertError } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import {
  createSolanaEntry,
  createStellarEntry,
  globalHistorySlot,
  KinVersion,
  kinHistoryCodec,
  orderingKeyOfSlot,
  solanaBody,
} from "../src/index.js";

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

describe("agora's global history helpers", () => {
  it("bounds a slot's ordering keys as agora's OrderingKeyFromBlock does, around every entry of that slot", () => {
    // A Kin4 ordering key: version, slot, then the first 8 bytes of the signature.
    const key = Buffer.concat([orderingKeyOfSlot(77n, "first").subarray(0, 9), Buffer.from("a1b2c3d4e5f60718", "hex")]);
    expect(Buffer.from(orderingKeyOfSlot(77n, "first")).toString("hex")).toBe(
      `04${(77).toString(16).padStart(16, "0")}${"00".repeat(8)}`,
    );
    expect(Buffer.compare(orderingKeyOfSlot(77n, "first"), key)).toBeLessThanOrEqual(0);
    expect(Buffer.compare(key, orderingKeyOfSlot(77n, "last"))).toBeLessThanOrEqual(0);
    expect(Buffer.compare(orderingKeyOfSlot(76n, "last"), orderingKeyOfSlot(77n, "first"))).toBeLessThan(0);
  });

  it("lists only confirmed Solana entries in the global history, by slot", () => {
    expect(globalHistorySlot(solana({ slot: 9n }))).toBe(9n);
    expect(globalHistorySlot(solana({ slot: 9n, confirmed: false }))).toBeNull();
    expect(globalHistorySlot(stellar(7))).toBeNull();
  });
});
