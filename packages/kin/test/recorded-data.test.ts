import { createSolanaRpc, type Slot } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KinSolanaIngestor, solanaPointer } from "../src/index.js";
import { SolanaChain, SolanaRpcServer } from "../src/simulator/index.js";
import { goJson } from "../src/solana/go-json.js";
import {
  firstSignatureVerifies,
  loadJson,
  recordedErrorVariants,
  recordedFailedInitializeAccount,
  recordedSlot100000000,
  recordedSlot100000001,
} from "./support/fixtures.js";
import { getBlockText } from "./support/get-block.js";
import { collect, first } from "./support/ingest.js";

const dir = inject("fixturesDir");

describe("recorded Solana data", () => {
  it("re-serialises every recorded transaction to the bytes its first signature signed", () => {
    const transactions = [...recordedSlot100000000(dir).transactions, ...recordedErrorVariants(dir)];
    expect(transactions).toHaveLength(13);
    for (const tx of transactions) expect(firstSignatureVerifies(tx.bytes)).toBe(true);
  });

  it("rebuilds slot 241043141's failed transaction from its jsonParsed recording, signature verified", () => {
    const { transaction } = recordedFailedInitializeAccount(dir);
    expect(firstSignatureVerifies(transaction.bytes)).toBe(true);
    // A tampered byte no longer verifies: the check is meaningful.
    const tampered = new Uint8Array(transaction.bytes);
    tampered[tampered.length - 1] = (tampered.at(-1) as number) ^ 1;
    expect(firstSignatureVerifies(tampered)).toBe(false);
  });

  it("writes Go-compatible JSON for the three recorded error forms", () => {
    const errors = recordedErrorVariants(dir).map((tx) => tx.meta?.err ?? null);
    expect(errors.map((e) => (e === null ? null : goJson(e)))).toEqual([
      null,
      '{"InstructionError":[0,{"Custom":0}]}',
      '"InvalidRentPayingAccount"',
    ]);
  });

  describe("served by the simulated node", () => {
    let server: SolanaRpcServer;
    beforeAll(async () => {
      const chain = new SolanaChain();
      chain.add(recordedSlot100000000(dir));
      chain.add(recordedSlot100000001(dir));
      server = await SolanaRpcServer.start({ chain });
    });
    afterAll(async () => {
      await server.close();
    });

    it("answers getBlock in `json` encoding exactly as recorded", async () => {
      const recorded = loadJson<{
        transactions: { transaction: unknown; meta: unknown }[];
        blockhash: string;
        parentSlot: number;
      }>(dir, "solana/mainnet-slot100000000-json.json");
      const text = await getBlockText(server.url, 100000000n, { encoding: "json", rewards: false });
      const { result } = JSON.parse(text) as { result: typeof recorded };
      expect(result.blockhash).toBe(recorded.blockhash);
      expect(result.parentSlot).toBe(recorded.parentSlot);
      expect(result.transactions.map((t) => t.transaction)).toEqual(recorded.transactions.map((t) => t.transaction));
      expect(result.transactions.map((t) => t.meta)).toEqual(recorded.transactions.map((t) => t.meta));
    });

    it("links the recorded child block to its parent, and the ingestor finds no Kin in either", async () => {
      const rpc = createSolanaRpc(server.url);
      const child = await rpc.getBlock(100000001n as Slot, { transactionDetails: "none", rewards: false }).send();
      const parent = await rpc.getBlock(100000000n as Slot, { transactionDetails: "none", rewards: false }).send();
      expect(child?.previousBlockhash).toBe(parent?.blockhash);
      const { results, entries } = await collect(
        new KinSolanaIngestor({ rpcUrl: server.url, startSlot: 99_999_999n }),
        null,
        first(2),
      );
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      expect(results.map((r) => r.block)).toEqual([solanaPointer(100000000n), solanaPointer(100000001n)]);
      expect(entries).toEqual([]);
    });
  });
});
