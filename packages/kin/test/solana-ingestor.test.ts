import { timestampDate } from "@bufbuild/protobuf/wkt";
import { getBase58Decoder } from "@solana/kit";
import { describeIngestor } from "@tidemark/conformance";
import { ConfigurationError, InvalidArgumentError, pointersEqual, pointerToHex, sleep } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createKinHistoryCodec,
  createSolanaEntry,
  type Entry,
  encodeEntry,
  KinSolanaIngestor,
  KinVersion,
  kinHistoryCodec,
  kinInstructions,
  solanaAccounts,
  solanaBody,
  solanaPointer,
  solanaTokenInstructions,
  stellarPointer,
} from "../src/index.js";
import { KinBlockFactory, SolanaChain, SolanaRpcServer, USDC_MINT_ADDRESS } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";

const solana = inject("solana");
const base58 = getBase58Decoder();
const signature = (entry: Entry) => base58.decode(kinHistoryCodec.transactionId(entry));
const lastSlot = BigInt(solana.expected.at(-1)?.slot ?? "0");

describeIngestor("Kin4 (Solana, from the chain's start)", {
  create: () => new KinSolanaIngestor({ rpcUrl: solana.url, startSlot: 100_000_000n, bound: 8, concurrency: 4 }),
  codec: kinHistoryCodec,
  bound: 8,
  inFlight: 4,
  results: 12,
});

describeIngestor("Kin4 (Solana, from a committed pointer)", {
  create: () => new KinSolanaIngestor({ rpcUrl: solana.url, bound: 8, concurrency: 4 }),
  codec: kinHistoryCodec,
  parent: solanaPointer(100_000_004n),
  bound: 8,
  inFlight: 4,
  results: 10,
});

describe("Kin4 ingestor on the shared chain", () => {
  let all: Awaited<ReturnType<typeof collect>>;
  beforeAll(async () => {
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url, startSlot: 100_000_000n });
    all = await collect(ingestor, null, (result) => pointersEqual(result.block, solanaPointer(lastSlot)));
  });
  const entriesOf = (slot: bigint) => all.entries.filter((e) => solanaBody(e).slot === slot);

  it("writes every Kin transaction once, block by block in order, and nothing else", () => {
    expect(all.results.every((r) => r.error === undefined)).toBe(true);
    const written = new Map<string, string[]>();
    for (const entry of all.entries) {
      const slot = solanaBody(entry).slot.toString();
      written.set(slot, [...(written.get(slot) ?? []), signature(entry)]);
    }
    for (const block of solana.expected) expect(written.get(block.slot) ?? [], `slot ${block.slot}`).toEqual(block.kin);
    expect(all.entries.length).toBe(solana.expected.reduce((n, b) => n + b.kin.length, 0));
    expect(new Set(all.entries.map(signature)).size).toBe(all.entries.length);
  });

  it("chains results over skipped slots, one result per block", () => {
    expect(all.results.map((r) => pointerToHex(r.block))).toEqual(
      solana.expected.map((b) => pointerToHex(solanaPointer(BigInt(b.slot)))),
    );
    expect(all.results[0]?.parent).toBeNull();
    for (const [i, result] of all.results.entries()) {
      if (i > 0) expect(pointersEqual(result.parent, all.results[i - 1]?.block ?? null)).toBe(true);
    }
    // 100000003 was skipped: 100000004's parent is 100000002.
    const after = all.results.find((r) => pointersEqual(r.block, solanaPointer(100_000_004n)));
    expect(pointerToHex(after?.parent ?? null)).toBe(pointerToHex(solanaPointer(100_000_002n)));
    for (const skipped of solana.skipped)
      expect(all.results.some((r) => pointersEqual(r.block, solanaPointer(BigInt(skipped))))).toBe(false);
  });

  it("leaves out real mainnet blocks without Kin, the failed wSOL account setup and USDC transfers", () => {
    expect(entriesOf(100_000_000n)).toEqual([]);
    expect(entriesOf(100_000_001n)).toEqual([]);
    // Slot 100000002: a Kin transfer, a USDC transfer and a SOL transfer -> only the Kin one.
    expect(entriesOf(100_000_002n)).toHaveLength(1);
    expect(solanaTokenInstructions(entriesOf(100_000_002n)[0] as Entry).map((i) => i.instruction.kind)).toEqual([
      "transfer",
    ]);
    // Slot 100000006: the recorded mainnet transaction of slot 241043141 and a Kin batch transfer -> only the batch.
    const slot6 = entriesOf(100_000_006n);
    expect(slot6).toHaveLength(1);
    expect(kinInstructions(slot6[0] as Entry).map((i) => i.instruction.kind)).toEqual(["transfer", "transfer"]);
  });

  it("keeps CPI transfers, seen only in the inner instructions", () => {
    const [cpi] = entriesOf(100_000_004n);
    const kept = kinInstructions(cpi as Entry);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({
      outerIndex: 0,
      innerIndex: 0,
      mint: "kinXdEcpDQeHPEuQnqmUgtYykqKGVFq6CeVX5iAHJq6",
    });
    expect(kept[0]?.instruction).toMatchObject({ kind: "transfer", amount: 250_000n });
  });

  it("keeps TransferChecked and versioned transactions whose accounts come from a lookup table", () => {
    const [, checked] = entriesOf(100_000_004n);
    expect(kinInstructions(checked as Entry)[0]?.instruction.kind).toBe("transferChecked");
    const [v0] = entriesOf(100_000_005n);
    const meta = solanaBody(v0 as Entry).meta;
    expect(meta?.loadedWritable.length).toBeGreaterThan(0);
    const [transfer] = kinInstructions(v0 as Entry);
    expect(transfer?.instruction).toMatchObject({ kind: "transfer", amount: 75_000n });
    // The source and destination live in the lookup table; the Solana view still names them and their owners.
    expect(solanaAccounts(v0 as Entry)).toHaveLength(4);
  });

  it("keeps a failed Kin transfer with the RPC's error as JSON, as agora stored it", () => {
    const [, failed] = entriesOf(100_000_005n);
    expect(new TextDecoder().decode(solanaBody(failed as Entry).transactionError)).toBe(
      '{"InstructionError":[0,{"Custom":1}]}',
    );
    expect(solanaBody(failed as Entry).confirmed).toBe(true);
    expect(solanaBody(failed as Entry).blockTime).toBeDefined();
  });

  it("keeps InitializeAccount, MintTo, Burn, CloseAccount and SetAuthority on Kin accounts", () => {
    const kinds = [...entriesOf(100_000_007n), ...entriesOf(100_000_008n)].flatMap((e) =>
      kinInstructions(e).map((i) => i.instruction.kind),
    );
    expect(kinds).toEqual(["initializeAccount", "mintTo", "burn", "closeAccount", "setAuthority"]);
    // The USDC transfer in the same block as the SetAuthority stays out.
    expect(entriesOf(100_000_008n)).toHaveLength(2);
  });

  it("indexes entries under agora's strkeys and under the base58 token accounts and owners", async () => {
    const factory = await KinBlockFactory.create({ seed: "scenario" });
    const [entry] = entriesOf(100_000_002n);
    const accounts = kinHistoryCodec.accounts(entry as Entry);
    expect(accounts).toEqual(
      expect.arrayContaining([
        factory.wallet(0).kinAccount,
        factory.wallet(1).kinAccount,
        factory.wallet(0).owner.address,
        factory.wallet(1).owner.address,
      ]),
    );
    expect(accounts.filter((a) => a.startsWith("G") && a.length === 56)).toHaveLength(2);
  });

  it("reports the finalized slot as head", async () => {
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url });
    expect(pointerToHex(await ingestor.head(AbortSignal.timeout(5000)))).toBe(pointerToHex(solanaPointer(lastSlot)));
  });

  it("resumes after a pointer written in Go's format without processing it again", async () => {
    // agora's pointerFromSlot(100000005): 04 + big-endian u64.
    const goPointer = new Uint8Array(Buffer.from("040000000005f5e105", "hex"));
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url });
    const { results, entries } = await collect(ingestor, goPointer, first(3));
    expect(pointerToHex(results[0]?.parent ?? null)).toBe("040000000005f5e105");
    expect(results.map((r) => pointerToHex(r.block))).toEqual([
      "040000000005f5e106",
      "040000000005f5e107",
      "040000000005f5e108",
    ]);
    expect(entries.some((e) => solanaBody(e).slot <= 100_000_005n)).toBe(false);
  });

  it("rejects a pointer of another chain or length before doing anything", async () => {
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url });
    const signal = AbortSignal.timeout(5000);
    const noop = { write: async () => {} };
    await expect(ingestor.ingest(signal, noop, stellarPointer(KinVersion.KIN3, 5))).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(ingestor.ingest(signal, noop, new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 1]))).rejects.toThrow(
      /version byte is KIN3/,
    );
  });

  it("writes entries byte-identical to agora's with extensions off", async () => {
    const inFirstTwo = (e: Entry) => solanaBody(e).slot <= 100_000_005n;
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url, extensions: false });
    const entries = (await collect(ingestor, solanaPointer(100_000_003n), first(2))).entries.filter(inFirstTwo);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(solanaBody(entry).meta).toBeUndefined();
      // Fields 1-5 only: what Go's proto.Marshal of agora's SolanaEntry writes (model.test.ts checks that against Go).
      const body = solanaBody(entry);
      const agora = createSolanaEntry({
        slot: body.slot,
        transaction: body.transaction,
        transactionError: body.transactionError,
        blockTime: body.blockTime ? timestampDate(body.blockTime) : null,
      });
      expect(Buffer.from(encodeEntry(entry)).equals(Buffer.from(encodeEntry(agora)))).toBe(true);
    }
    const kept = (
      await collect(new KinSolanaIngestor({ rpcUrl: solana.url }), solanaPointer(100_000_003n), first(2))
    ).entries.filter(inFirstTwo);
    expect(entries.map(signature).sort()).toEqual(kept.map(signature).sort());
  });

  it("follows another mint when configured", async () => {
    const ingestor = new KinSolanaIngestor({ rpcUrl: solana.url, mint: USDC_MINT_ADDRESS });
    const entries = (await collect(ingestor, solanaPointer(100_000_001n), first(1))).entries.filter(
      (e) => solanaBody(e).slot === 100_000_002n,
    );
    expect(entries).toHaveLength(1);
    expect(createKinHistoryCodec({ mint: USDC_MINT_ADDRESS }).accounts(entries[0] as Entry).length).toBeGreaterThan(0);
  });
});

describe("Kin4 ingestor options", () => {
  it("refuses to poll faster than once a second and other unusable options", () => {
    expect(() => new KinSolanaIngestor({ rpcUrl: solana.url, pollMs: 200 })).toThrow(/at least 1000/);
    expect(() => new KinSolanaIngestor({ rpcUrl: solana.url, concurrency: 0 })).toThrow(InvalidArgumentError);
    expect(() => new KinSolanaIngestor({ rpcUrl: solana.url, mint: "not-a-mint" })).toThrow(
      /not a base58 Solana address/,
    );
    expect(() => new KinSolanaIngestor({ rpcUrl: "ftp://example.com" })).toThrow(ConfigurationError);
    expect(new KinSolanaIngestor({ rpcUrl: solana.url }).name).toBe("history_KIN4");
  });
});

describe("Kin4 ingestor at the chain's tip", () => {
  let chain: SolanaChain;
  let server: SolanaRpcServer;
  let factory: KinBlockFactory;
  beforeAll(async () => {
    factory = await KinBlockFactory.create({ seed: "tip" });
    chain = new SolanaChain();
    for (let i = 0; i < 5; i++) chain.append([await factory.transfer(i, i + 1, 1_000n)], { slot: 500n + BigInt(i) });
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await server.close();
  });

  it("makes one getBlock per block and one getBlocksWithLimit per batch, then polls no faster than once a second", async () => {
    const ingestor = new KinSolanaIngestor({ rpcUrl: server.url, startSlot: 500n });
    const controller = new AbortController();
    const writer = { entries: [] as Entry[], write: async (e: Entry) => void writer.entries.push(e) };
    const queue = await ingestor.ingest(controller.signal, writer, null);
    const iterator = queue[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await (await iterator.next()).value;
    expect(server.requests("getBlock")).toBe(5);
    const listedAt = server.requests("getBlocksWithLimit");
    expect(listedAt).toBeLessThanOrEqual(2);
    await sleep(2500);
    const polls = server.requests("getBlocksWithLimit") - listedAt;
    // Caught up for 2.5 s: at most three polls one second apart.
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(polls).toBeLessThanOrEqual(3);
    // A new block is picked up by the next poll.
    chain.append([await factory.transfer(0, 2, 77n)], { slot: 510n });
    const next = await (await iterator.next()).value;
    expect(pointerToHex(next.block)).toBe(pointerToHex(solanaPointer(510n)));
    expect(writer.entries.at(-1) && solanaBody(writer.entries.at(-1) as Entry).slot).toBe(510n);
    controller.abort();
    await iterator.return?.();
  });
});
