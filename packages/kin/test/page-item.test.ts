import { readFileSync } from "node:fs";
import { toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { CorruptRecordError } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { historyItemOf } from "../src/agora/history-item.js";
import { HistoryItemSchema } from "../src/agora/index.js";
import { itemBytes as encoded, type PageItem, pageItemOf } from "../src/agora/page-item.js";
import {
  createSolanaEntry,
  decodeEntry,
  type Entry,
  encodeEntry,
  KinSolanaIngestor,
  kinHistoryCodec,
  orderingKey,
  SolanaEntrySchema,
  solanaBody,
  solanaPointer,
  storedKinHistoryCodec,
  transactionId,
} from "../src/index.js";
import { loadedAddressesOf, readStoredSolanaEntry } from "../src/model/stored-solana-entry.js";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";

interface Golden {
  readonly solana: readonly { name: string; marshalled: string }[];
  readonly stellar: readonly { name: string; marshalled: string }[];
}
const golden = JSON.parse(readFileSync(new URL("golden/agora-v0.2.7.json", import.meta.url), "utf8")) as Golden;

/** What the service answered with before page items: the message `historyItemOf` builds, encoded. */
const expectedItem = (bytes: Uint8Array) => toBinary(HistoryItemSchema, historyItemOf(decodeEntry(bytes)));
const itemBytes = (item: PageItem) => encoded(item.item());

describe("page items from stored entry bytes", () => {
  const ingested: Entry[] = [];
  let rpc: SolanaRpcServer;

  beforeAll(async () => {
    // Mixed Kin4 traffic as the real ingestor stores it: transfers, TransferChecked, CPI, versioned
    // (lookup-table) and failed ones, USDC and SOL transfers, then blocks with and without a time.
    const factory = await KinBlockFactory.create({ seed: "page-items" });
    const chain = new SolanaChain();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let block = 0; block < 8; block++)
      chain.append(await factory.traffic(12, random), { slot: 300n + BigInt(block) });
    // Amounts agora's int64 cast turns negative, and a zero amount proto3 leaves out.
    const edges = [
      await factory.transfer(0, 1, 2n ** 64n - 1n, { fail: true }),
      await factory.transfer(1, 2, 2n ** 63n, { fail: true }),
      await factory.transfer(2, 3, 0n),
    ];
    chain.append(edges, { slot: 309n });
    chain.append([await factory.batchTransfer(1, [2, 3], 5n)], { slot: 310n, blockTime: null });
    rpc = await SolanaRpcServer.start({ chain });
    const { entries } = await collect(
      new KinSolanaIngestor({ rpcUrl: rpc.url, startSlot: 300n }),
      solanaPointer(299n),
      first(10),
    );
    ingested.push(...entries);
  }, 60_000);

  afterAll(async () => {
    await rpc?.close();
  });

  it("writes every Kin4 entry's history item byte for byte as the message path does, without decoding it", () => {
    expect(ingested.length).toBeGreaterThan(50);
    const kinds = { failed: 0, loaded: 0, untimed: 0, payments: 0, negative: 0, zero: 0 };
    for (const entry of ingested) {
      const bytes = encodeEntry(entry);
      // The stored-bytes path is taken (not the decoding fallback) for every entry the ingestor writes.
      const stored = readStoredSolanaEntry(bytes);
      expect(stored).not.toBeNull();
      const item = pageItemOf(bytes);
      expect(itemBytes(item)).toEqual(expectedItem(bytes));
      expect(item.orderingKey).toEqual(orderingKey(entry));
      expect(item.id).toEqual(transactionId(entry));
      expect(itemBytes(pageItemOf(entry))).toEqual(itemBytes(item));
      const solana = solanaBody(entry);
      if (solana.transactionError.length > 0) kinds.failed++;
      if ((loadedAddressesOf(stored?.meta)?.length ?? 0) > 0) kinds.loaded++;
      if (solana.blockTime === undefined) kinds.untimed++;
      const payments = historyItemOf(entry).payments;
      if (payments.length > 0) kinds.payments++;
      if (payments.some((p) => p.amount < 0n)) kinds.negative++;
      if (payments.some((p) => p.amount === 0n)) kinds.zero++;
    }
    // The traffic covered what the hand-written encoding must get right.
    expect(kinds.failed).toBeGreaterThan(0);
    expect(kinds.loaded).toBeGreaterThan(0);
    expect(kinds.untimed).toBeGreaterThan(0);
    expect(kinds.payments).toBeGreaterThan(0);
    expect(kinds.negative).toBe(2);
    expect(kinds.zero).toBe(1);
  });

  it("reads entries agora's Go code marshalled (Kin4 by the stored-bytes path, Kin2/Kin3 decoded) exactly as decoded ones", () => {
    for (const { name, marshalled } of golden.solana) {
      const bytes = Buffer.from(marshalled, "hex");
      expect(readStoredSolanaEntry(bytes), name).not.toBeNull();
      expect(itemBytes(pageItemOf(bytes)), name).toEqual(expectedItem(bytes));
    }
    for (const { name, marshalled } of golden.stellar) {
      const bytes = Buffer.from(marshalled, "hex");
      expect(readStoredSolanaEntry(bytes), name).toBeNull();
      const item = pageItemOf(bytes);
      expect(itemBytes(item), name).toEqual(expectedItem(bytes));
      expect(item.orderingKey, name).toEqual(orderingKey(decodeEntry(bytes)));
    }
  });

  it("leaves to a full decode what protobuf would merge or override, and reads it the same", () => {
    const entry = ingested[0] as Entry;
    // The entry again with a second slot field appended to its Solana body: protobuf takes the last one.
    const body = toBinary(SolanaEntrySchema, solanaBody(entry));
    const patched = new BinaryWriter()
      .tag(1, WireType.Varint)
      .int32(entry.version)
      .tag(3, WireType.LengthDelimited)
      .bytes(new Uint8Array([...body, ...new BinaryWriter().tag(1, WireType.Varint).uint64(999n).finish()]))
      .finish();
    expect(readStoredSolanaEntry(patched)).toBeNull();
    const item = pageItemOf(patched);
    expect(itemBytes(item)).toEqual(expectedItem(patched));
    expect(solanaBody(decodeEntry(patched)).slot).toBe(999n);
  });

  it("gives the same message as historyItemOf, and reads ids, keys and blocks through storedKinHistoryCodec", () => {
    const goldenBytes = [...golden.solana, ...golden.stellar].map(
      ({ marshalled }) => new Uint8Array(Buffer.from(marshalled, "hex")),
    );
    for (const bytes of [...ingested.map(encodeEntry), ...goldenBytes]) {
      const entry = decodeEntry(bytes);
      expect(pageItemOf(bytes).message()).toEqual(historyItemOf(entry));
      expect(storedKinHistoryCodec.transactionId(bytes)).toEqual(kinHistoryCodec.transactionId(entry));
      expect(storedKinHistoryCodec.orderingKey(bytes)).toEqual(kinHistoryCodec.orderingKey(entry));
      expect(storedKinHistoryCodec.block(bytes)).toEqual(kinHistoryCodec.block(entry));
      expect(storedKinHistoryCodec.accounts(bytes)).toEqual(kinHistoryCodec.accounts(entry));
      expect(storedKinHistoryCodec.decode(bytes)).toBe(bytes);
    }
  });

  it("serves nothing the decoder would refuse: malformed metadata is decoded in full and reported corrupt", () => {
    const entry = ingested.find((e) => solanaBody(e).meta !== undefined) as Entry;
    const withMeta = (meta: number[]) => {
      const body = toBinary(SolanaEntrySchema, { ...solanaBody(entry), meta: undefined });
      const field = new BinaryWriter().tag(100, WireType.LengthDelimited).bytes(Uint8Array.from(meta)).finish();
      return new BinaryWriter()
        .tag(1, WireType.Varint)
        .int32(entry.version)
        .tag(3, WireType.LengthDelimited)
        .bytes(new Uint8Array([...body, ...field]))
        .finish();
    };
    // An inner instruction holding a cut varint; a token account field of the wrong wire type; field number 0.
    for (const meta of [
      [0x1a, 0x01, 0x08],
      [0x22, 0x02, 0x08, 0x01],
      [0x00, 0x01],
    ]) {
      const bytes = withMeta(meta);
      expect(() => decodeEntry(bytes)).toThrow(CorruptRecordError);
      expect(() => itemBytes(pageItemOf(bytes))).toThrow(CorruptRecordError);
    }
    // Well-formed metadata with fields tidemark does not know is served from the bytes, as decoding would.
    const unknown = withMeta([0x48, 0x01]);
    expect(itemBytes(pageItemOf(unknown))).toEqual(expectedItem(unknown));
  });

  it("reports stored bytes that are no entry, or a transaction that does not parse, as corrupt", () => {
    expect(() => pageItemOf(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(CorruptRecordError);
    const broken = encodeEntry(
      createSolanaEntry({ slot: 5n, transaction: new Uint8Array([1, ...new Uint8Array(64).fill(9), 0x80]) }),
    );
    const item = pageItemOf(broken);
    expect(item.orderingKey[0]).toBe(4);
    expect(() => itemBytes(item)).toThrow(CorruptRecordError);
  });
});
