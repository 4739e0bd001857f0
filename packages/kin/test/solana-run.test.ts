import { getAddressEncoder } from "@solana/kit";
import { StrKey } from "@stellar/stellar-sdk";
import {
  MemoryCommitState,
  MemoryCommitter,
  MemoryHistoryStore,
  MemoryLock,
  MemoryLockServer,
  pointerToHex,
  type RunEvent,
  run,
} from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Entry, KinSolanaIngestor, kinHistoryCodec, solanaBody, solanaPointer } from "../src/index.js";
import { SolanaRpcServer } from "../src/simulator/index.js";
import { buildSolanaScenario, type SolanaScenario } from "./support/scenario.js";

/** core's in-memory parts around a Kin4 ingestor: what `tidemark run` does with real backends. */
function setup(rpcUrl: string) {
  const state = new MemoryCommitState();
  const committer = new MemoryCommitter({ state });
  const ingestor = new KinSolanaIngestor({
    rpcUrl,
    startSlot: 100_000_000n,
    retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
  });
  const store = new MemoryHistoryStore<Entry>({
    codec: kinHistoryCodec,
    committed: () => committer.latest(ingestor.name),
  });
  const lock = new MemoryLock({ server: new MemoryLockServer(), key: ingestor.name, leaseMs: 3000 });
  return { committer, ingestor, store, lock };
}

describe("run over the Kin4 ingestor", () => {
  let scenario: SolanaScenario;
  let server: SolanaRpcServer;
  let last: Uint8Array;
  beforeAll(async () => {
    scenario = await buildSolanaScenario(inject("fixturesDir"), 20);
    server = await SolanaRpcServer.start({ chain: scenario.chain });
    last = solanaPointer(BigInt(scenario.expected.at(-1)?.slot as string));
  });
  afterAll(async () => {
    await server.close();
  });
  const expectedIds = (after = 0n) => scenario.expected.filter((b) => BigInt(b.slot) > after).flatMap((b) => b.kin);

  it("ingests the chain end to end: commits the last block, stores every Kin transaction, answers account queries", async () => {
    const { committer, ingestor, store, lock } = setup(server.url);
    const events: RunEvent[] = [];
    await run({
      signal: AbortSignal.timeout(60_000),
      lock,
      committer,
      writer: store,
      ingestor,
      until: last,
      onEvent: (e) => events.push(e),
    });
    expect(pointerToHex(await committer.latest("history_KIN4"))).toBe(pointerToHex(last));
    const stored = await store.getBlockRange(solanaPointer(0n), last);
    const base58 = (e: Entry) => Buffer.from(kinHistoryCodec.transactionId(e)).toString("hex");
    expect(stored.length).toBe(expectedIds().length);
    expect(new Set(stored.map(base58)).size).toBe(stored.length);
    // Coalescing: far fewer commits than blocks.
    const commits = events.filter((e) => e.type === "committed");
    expect(commits.length).toBeLessThan(scenario.expected.length);

    const wallet = scenario.factory.wallet(1);
    const byOwner = await store.getAccountHistory(wallet.owner.address, { limit: 1000 });
    const byTokenAccount = await store.getAccountHistory(wallet.kinAccount, { limit: 1000 });
    expect(byOwner.length).toBeGreaterThan(3);
    expect(byTokenAccount.length).toBeGreaterThan(3);
    // agora's index: the token account as a Stellar strkey, for top-level Transfers.
    const strkey = StrKey.encodeEd25519PublicKey(new Uint8Array(getAddressEncoder().encode(wallet.kinAccount)));
    const byStrkey = await store.getAccountHistory(strkey, { limit: 1000 });
    expect(byStrkey.length).toBeGreaterThan(0);
    expect(byStrkey.length).toBeLessThanOrEqual(byTokenAccount.length);
    // Ordering keys sort an account's history by slot.
    const slots = byOwner.map((e) => solanaBody(e).slot);
    expect(slots).toEqual([...slots].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const [one] = stored;
    expect(await store.getTransaction(kinHistoryCodec.transactionId(one as Entry))).toEqual(one);
  });

  it("resumes from a pointer committed by a Go agora deployment", async () => {
    const { committer, ingestor, store, lock } = setup(server.url);
    // What agora's committer stored after slot 100000005 (pointerFromSlot).
    await committer.commit("history_KIN4", null, new Uint8Array(Buffer.from("040000000005f5e105", "hex")));
    await run({ signal: AbortSignal.timeout(60_000), lock, committer, writer: store, ingestor, until: last });
    const stored = await store.getBlockRange(solanaPointer(0n), last);
    expect(stored.every((e) => solanaBody(e).slot > 100_000_005n)).toBe(true);
    expect(stored.length).toBe(expectedIds(100_000_005n).length);
  });

  it("restarts from the last commit when a block keeps failing, then completes without duplicates", async () => {
    const { committer, ingestor, store, lock } = setup(server.url);
    const fault = server.faults.add({
      method: "getBlock",
      target: 100_000_006n,
      fault: { kind: "http", status: 502 },
      times: 4,
    });
    const events: RunEvent[] = [];
    await run({
      signal: AbortSignal.timeout(60_000),
      lock,
      committer,
      writer: store,
      ingestor,
      until: last,
      restartInitialMs: 20,
      onEvent: (e) => events.push(e),
    });
    expect(fault.hits).toBe(4);
    expect(events.some((e) => e.type === "restart")).toBe(true);
    expect(pointerToHex(await committer.latest("history_KIN4"))).toBe(pointerToHex(last));
    expect(store.size).toBe(expectedIds().length);
  });
});
