import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { CorruptRecordError, InvalidArgumentError, pointerFromHex, pointerToHex } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import {
  agoraAccounts,
  createSolanaEntry,
  createStellarEntry,
  decodeEntry,
  type Entry,
  encodeEntry,
  getEventsIngestorName,
  getHistoryIngestorName,
  KIN2_MAINNET,
  KIN2_TESTNET,
  KIN3_MAINNET,
  KIN3_TESTNET,
  KinVersion,
  kinHistoryCodec,
  ledgerFromPointer,
  orderingKey,
  quarksFromStellarAmount,
  SolanaTokenAccountSchema,
  SolanaTransactionMetaSchema,
  slotFromPointer,
  solanaBody,
  solanaPointer,
  stellarBody,
  stellarPointer,
  transactionId,
} from "../src/index.js";
import { goJson } from "../src/solana/go-json.js";

/** What agora v0.2.7's Go model returned for each case (computed once with agora v0.2.7's own model package). */
interface Golden {
  input: {
    stellar: {
      name: string;
      version: number;
      ledger: number;
      pagingToken: string;
      closeTime: number;
      passphrase: string;
      envelopeXdr: string;
      resultXdr: string;
    }[];
    solana: { name: string; slot: number; transaction: string; transactionError: string; blockTime: number | null }[];
    decode: { name: string; bytes: string }[];
  };
  names: { version: number; history: string; events: string }[];
  stellar: GoResult[];
  solana: GoResult[];
  decode: (GoResult & { remarshalled?: string; slot?: number })[];
}
interface GoResult {
  name: string;
  decodeError?: string;
  marshalled?: string;
  txId?: string;
  txIdError?: string;
  orderingKey?: string;
  accounts: string[];
  accountsError?: string;
}

const golden = JSON.parse(readFileSync(new URL("./golden/agora-v0.2.7.json", import.meta.url), "utf8")) as Golden;
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function stellarEntryOf(c: Golden["input"]["stellar"][number]): Entry {
  return createStellarEntry({
    version: c.version as KinVersion.KIN2 | KinVersion.KIN3,
    ledger: c.ledger,
    pagingToken: BigInt(c.pagingToken),
    ledgerCloseTime: new Date(c.closeTime * 1000),
    networkPassphrase: c.passphrase,
    envelopeXdr: b64(c.envelopeXdr),
    resultXdr: b64(c.resultXdr),
  });
}

function solanaEntryOf(c: Golden["input"]["solana"][number]): Entry {
  return createSolanaEntry({
    slot: BigInt(c.slot),
    transaction: b64(c.transaction),
    ...(c.transactionError ? { transactionError: new TextEncoder().encode(c.transactionError) } : {}),
    blockTime: c.blockTime === null ? null : new Date(c.blockTime * 1000),
  });
}

describe("ingestor names", () => {
  it("match Go's GetHistoryIngestorName / GetEventsIngestorName for every version, unknown ones included", () => {
    for (const { version, history, events } of golden.names) {
      expect(getHistoryIngestorName(version)).toBe(history);
      expect(getEventsIngestorName(version)).toBe(events);
    }
    expect(getHistoryIngestorName(KinVersion.KIN3)).toBe("history_KIN3");
    expect(getEventsIngestorName(KinVersion.KIN4)).toBe("events_KIN4");
  });
});

describe("pointers", () => {
  it("encode Stellar ledgers as version byte + big-endian u32 and Solana slots as 4 + big-endian u64", () => {
    expect(pointerToHex(stellarPointer(KinVersion.KIN3, 0x01020304))).toBe("0301020304");
    expect(pointerToHex(stellarPointer(KinVersion.KIN2, 7))).toBe("0200000007");
    expect(pointerToHex(solanaPointer(250_000_000n))).toBe("04000000000ee6b280");
    expect(ledgerFromPointer(pointerFromHex("03000004d2"), KinVersion.KIN3)).toBe(1234);
    expect(slotFromPointer(pointerFromHex("040000000005f5e100"))).toBe(100_000_000n);
  });

  it("reject a pointer of the wrong length or version with a clear error", () => {
    expect(() => slotFromPointer(pointerFromHex("03000004d2"))).toThrow(InvalidArgumentError);
    expect(() => slotFromPointer(pointerFromHex("03000004d2"))).toThrow(
      /KIN4 pointer 03000004d2 \(5 bytes\): expected 9 bytes/,
    );
    expect(() => slotFromPointer(pointerFromHex("030000000005f5e100"))).toThrow(/version byte is KIN3/);
    expect(() => ledgerFromPointer(pointerFromHex("040000000005f5e100"), KinVersion.KIN3)).toThrow(/expected 5 bytes/);
    expect(() => ledgerFromPointer(pointerFromHex("02000004d2"), KinVersion.KIN3)).toThrow(
      /KIN3 pointer 02000004d2: its version byte is KIN2/,
    );
    expect(() => stellarPointer(KinVersion.KIN3, 2 ** 32)).toThrow(InvalidArgumentError);
  });

  it("sort in chain order, and a block's pointer before the ordering keys of its entries", () => {
    const a = solanaPointer(255n);
    const b = solanaPointer(256n);
    expect(Buffer.compare(a, b)).toBeLessThan(0);
    const entry = solanaEntryOf(
      golden.input.solana.find((c) => c.name === "kin4-transfer") as Golden["input"]["solana"][number],
    );
    expect(Buffer.compare(kinHistoryCodec.block(entry), kinHistoryCodec.orderingKey(entry))).toBeLessThan(0);
    expect(Buffer.compare(kinHistoryCodec.orderingKey(entry), solanaPointer(solanaBody(entry).slot + 1n))).toBeLessThan(
      0,
    );
  });
});

describe("Stellar entries against agora's Go model", () => {
  it.each(golden.input.stellar.map((c, i) => [c.name, c, golden.stellar[i] as GoResult] as const))(
    "%s: same bytes, transaction id, ordering key and accounts",
    (_name, input, go) => {
      const entry = stellarEntryOf(input);
      expect(hex(encodeEntry(entry))).toBe(go.marshalled);
      expect(hex(transactionId(entry))).toBe(go.txId);
      expect(hex(orderingKey(entry))).toBe(go.orderingKey);
      expect([...agoraAccounts(entry)].sort()).toEqual(go.accounts);
      expect([...kinHistoryCodec.accounts(entry)].sort()).toEqual(go.accounts);
      const decoded = decodeEntry(Buffer.from(go.marshalled as string, "hex"));
      expect(stellarBody(decoded).networkPassphrase).toBe(input.passphrase);
      expect(
        timestampDate(
          stellarBody(decoded).ledgerCloseTime as NonNullable<ReturnType<typeof stellarBody>["ledgerCloseTime"]>,
        ).getTime(),
      ).toBe(input.closeTime * 1000);
    },
  );

  it("identifies recorded pubnet transactions by the hash Horizon reported", () => {
    const recorded = golden.input.stellar.filter((c) => c.name.startsWith("stellar-pubnet-"));
    expect(recorded.length).toBe(11);
    for (const c of recorded)
      expect(hex(transactionId(stellarEntryOf(c))).startsWith(c.name.slice("stellar-pubnet-".length))).toBe(true);
  });
});

describe("Solana entries against agora's Go model", () => {
  it.each(golden.input.solana.map((c, i) => [c.name, c, golden.solana[i] as GoResult] as const))(
    "%s: same bytes, and the same id, ordering key and accounts wherever Go can parse the transaction",
    (_name, input, go) => {
      const entry = solanaEntryOf(input);
      expect(hex(encodeEntry(entry))).toBe(go.marshalled);
      if (go.txIdError) {
        // agora v0.2.7 cannot parse versioned transactions; tidemark still takes the first signature.
        expect(input.name).toBe("kin4-v0-transfer");
        expect(hex(transactionId(entry))).toBe(Buffer.from(b64(input.transaction).subarray(1, 65)).toString("hex"));
        return;
      }
      expect(hex(transactionId(entry))).toBe(go.txId);
      expect(hex(orderingKey(entry))).toBe(go.orderingKey);
      expect([...agoraAccounts(entry)].sort()).toEqual(go.accounts);
    },
  );

  it("decodes what Go marshalled, and Go decodes tidemark's extension as an unknown field it keeps", () => {
    for (const go of golden.solana) {
      const decoded = decodeEntry(Buffer.from(go.marshalled as string, "hex"));
      expect(hex(encodeEntry(decoded))).toBe(go.marshalled);
    }
    const [ours] = golden.input.decode;
    const [theirs] = golden.decode;
    expect(theirs?.decodeError).toBeUndefined();
    expect(theirs?.slot).toBe(250_000_100);
    // Go re-marshals the unknown field 100 untouched: agora reading tidemark's entries loses nothing.
    expect(theirs?.remarshalled).toBe(Buffer.from(ours?.bytes as string, "base64").toString("hex"));
    const decoded = decodeEntry(b64(ours?.bytes as string));
    expect(solanaBody(decoded).meta?.loadedWritable).toHaveLength(1);
    expect(hex(transactionId(decoded))).toBe(theirs?.txId);
  });
});

describe("entries", () => {
  it("round-trip tidemark's metadata extension", () => {
    const input = golden.input.solana.find((c) => c.name === "kin4-transfer") as Golden["input"]["solana"][number];
    const entry = solanaEntryOf(input);
    solanaBody(entry).meta = create(SolanaTransactionMetaSchema, {
      tokenAccounts: [
        create(SolanaTokenAccountSchema, { address: new Uint8Array(32).fill(9), mint: new Uint8Array(32).fill(8) }),
      ],
    });
    const again = decodeEntry(encodeEntry(entry));
    expect(solanaBody(again).meta?.tokenAccounts[0]?.address).toEqual(new Uint8Array(32).fill(9));
    expect(kinHistoryCodec.decode(kinHistoryCodec.encode(entry))).toEqual(again);
  });

  it("reject bytes that are not an Entry as corrupt records", () => {
    expect(() => decodeEntry(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(CorruptRecordError);
    expect(() => decodeEntry(new Uint8Array([0x08, 0x04]))).toThrow(/neither a stellar nor a solana body/);
    const broken = createSolanaEntry({ slot: 1n, transaction: new Uint8Array([1, 2, 3]) });
    expect(() => transactionId(broken)).toThrow(/Solana entry of slot 1: the transaction has no signature/);
    const badXdr = createStellarEntry({
      version: KinVersion.KIN3,
      ledger: 5,
      pagingToken: 5n << 32n,
      ledgerCloseTime: new Date(0),
      networkPassphrase: "x",
      envelopeXdr: new Uint8Array([1, 2, 3]),
      resultXdr: new Uint8Array([1]),
    });
    expect(() => transactionId(badXdr)).toThrow(/Stellar entry of ledger 5 .*envelope XDR does not parse/);
  });
});

describe("Kin on Stellar networks", () => {
  it("converts XDR amounts to quarks: Kin2's 1e-7 asset units / 100, Kin3's native units as they are", () => {
    expect(quarksFromStellarAmount(125_000_000n, KIN2_MAINNET)).toBe(1_250_000n);
    expect(quarksFromStellarAmount(125_000n, KIN3_MAINNET)).toBe(125_000n);
    expect(() => quarksFromStellarAmount(150n, KIN2_MAINNET)).toThrow(InvalidArgumentError);
    expect(KIN2_MAINNET.kin).toEqual({
      code: "KIN",
      issuer: "GDF42M3IPERQCBLWFEZKQRK77JQ65SCKTU3CW36HZVCX7XX5A5QXZIVK",
    });
    expect([KIN2_TESTNET.passphrase, KIN3_TESTNET.passphrase]).toEqual([
      "Kin Playground Network ; June 2018",
      "Kin Testnet ; December 2018",
    ]);
  });
});

describe("transaction errors", () => {
  it("are serialised as Go's encoding/json writes the RPC's error (sorted keys, HTML escapes, plain integers)", () => {
    expect(goJson({ InstructionError: [0, { Custom: 1n }] })).toBe('{"InstructionError":[0,{"Custom":1}]}');
    expect(goJson("InvalidRentPayingAccount")).toBe('"InvalidRentPayingAccount"');
    expect(goJson({ b: 1, a: "<&>" })).toBe('{"a":"\\u003c\\u0026\\u003e","b":1}');
    expect(goJson({ InstructionError: [3, "ProgramFailedToComplete"] })).toBe(
      '{"InstructionError":[3,"ProgramFailedToComplete"]}',
    );
  });
});
