import { toBinary } from "@bufbuild/protobuf";
import type { Address } from "@solana/kit";
import { beforeAll, describe, expect, it } from "vitest";
import { EntrySchema } from "../src/gen/model_pb.js";
import { MainnetShapedChain, SolanaRpcServer } from "../src/simulator/index.js";
import { entriesOfBody } from "../src/solana/block-body.js";
import { scanBlockBody } from "../src/solana/block-scan.js";
import { parseBlock } from "../src/solana/block-shape.js";
import { kinCandidates, kinEntriesOfBlock } from "../src/solana/kin-entries.js";
import { getBlockText } from "./support/get-block.js";

// The scan frames a getBlock body without building it; only transactions that may be Kin
// transactions are parsed. Whatever a body looks like, the entries must be those a full parse keeps.

const hex = (entries: readonly { $typeName: string }[]) =>
  entries.map((e) => Buffer.from(toBinary(EntrySchema, e as never)).toString("hex"));

function fullParse(slot: bigint, text: string, mint: Address): string[] {
  return hex(
    kinEntriesOfBlock(slot, parseBlock(slot, (JSON.parse(text) as { result: unknown }).result, kinCandidates(mint)), {
      mint,
      extensions: true,
    }),
  );
}

function scanned(slot: bigint, text: string, mint: Address): string[] {
  return hex(entriesOfBody(slot, { bytes: Buffer.from(text), encoding: undefined }, { mint, extensions: true }));
}

describe("getBlock body scan", () => {
  let chain: MainnetShapedChain;
  let slot: bigint;
  let text: string;
  let kinIndexes: number[];

  beforeAll(async () => {
    chain = await MainnetShapedChain.create({
      seed: "scan",
      blocks: 2,
      transactionsPerBlock: 120,
      kinTransfersPerBlock: 3,
    });
    const server = await SolanaRpcServer.start({ chain });
    try {
      slot = chain.firstSlot;
      text = await getBlockText(server.url, slot);
    } finally {
      await server.close();
    }
    kinIndexes = chain.kinTransfers(slot).map((t) => t.index);
  });

  /** The body with transaction `index` replaced by what `edit` makes of its parsed JSON text. */
  function withTransaction(index: number, edit: (tx: string) => string): string {
    const body = JSON.parse(text) as { result: { transactions: unknown[] } };
    const txs = body.result.transactions.map((tx) => JSON.stringify(tx));
    txs[index] = edit(txs[index] as string);
    const { transactions: _, ...rest } = body.result;
    return JSON.stringify({ ...body, result: { ...rest, transactions: "@@" } }).replace('"@@"', `[${txs.join(",")}]`);
  }

  it("frames every transaction where JSON.parse finds it", () => {
    const body = Buffer.from(text);
    const framed = scanBlockBody(body);
    const parsed = (JSON.parse(text) as { result: { transactions: { transaction: [string] }[] } }).result.transactions;
    expect(framed?.transactions).toHaveLength(parsed.length);
    framed?.transactions.forEach((tx, i) => {
      expect(JSON.parse(body.toString("utf8", tx.start, tx.end))).toEqual(parsed[i]);
      expect(body.toString("latin1", tx.base64Start, tx.base64End)).toBe(parsed[i]?.transaction[0]);
      expect(tx.plain).toBe(true);
    });
    expect(scanned(slot, text, chain.mint)).toEqual(fullParse(slot, text, chain.mint));
    expect(kinIndexes.length).toBe(3);
  });

  it("parses in full a Kin transaction whose mint shows only behind escapes", () => {
    const index = kinIndexes[0] as number;
    const escaped = chain.mint.replace(/^./, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    const body = withTransaction(index, (tx) => tx.split(`"${chain.mint}"`).join(`"${escaped}"`));
    expect(body).not.toBe(text);
    expect(body.includes(`"mint":"${chain.mint}"`)).toBe(true); // the other Kin transfers still show it plainly
    const framed = scanBlockBody(Buffer.from(body));
    expect(framed?.transactions[index]?.plain).toBe(false);
    const expected = fullParse(slot, body, chain.mint);
    expect(expected).toHaveLength(3);
    expect(scanned(slot, body, chain.mint)).toEqual(expected);
  });

  it.each([
    ["meta null", (tx: string) => tx.replace(/^\{"meta":\{.*\},"transaction"/, '{"meta":null,"transaction"')],
    ["version 0 as text", (tx: string) => tx.replace(/"version":("legacy"|0)/, '"version":"0"')],
    ["a third element", (tx: string) => tx.replace('"base64"]', '"base64","x"]')],
    ["json encoding named", (tx: string) => tx.replace('"base64"]', '"json"]')],
    ["meta twice", (tx: string) => tx.replace('{"meta":', '{"meta":{},"meta":')],
    [
      "a transaction object",
      (tx: string) => tx.replace(/"transaction":\[("[^"]*"),"base64"\]/, '"transaction":{"b":$1}'),
    ],
  ])("reads a transaction with %s as a full parse does", (_what, edit) => {
    for (const index of [0, kinIndexes[1] as number]) {
      const body = withTransaction(index, edit);
      expect(body).not.toBe(text);
      expect(scanBlockBody(Buffer.from(body))?.transactions[index]?.plain).toBe(false);
      let expected: string[] | Error;
      try {
        expected = fullParse(slot, body, chain.mint);
      } catch (error) {
        expected = error as Error;
      }
      if (expected instanceof Error) expect(() => scanned(slot, body, chain.mint)).toThrow(expected.message);
      else expect(scanned(slot, body, chain.mint)).toEqual(expected);
    }
  });

  it("refuses what is not JSON, as JSON.parse does", () => {
    const cut = text.slice(0, Math.floor(text.length / 2));
    for (const body of [cut, `${text}x`, `${text}{}`, text.replace("]", "}"), text.replace(':{"err"', ':{#"err"')]) {
      expect(() => JSON.parse(body)).toThrow(SyntaxError);
      expect(() => scanned(slot, body, chain.mint)).toThrow(SyntaxError);
    }
  });

  it("leaves bodies without a transactions array to JSON.parse", () => {
    expect(scanBlockBody(Buffer.from('{"jsonrpc":"2.0","id":1,"result":null}'))).toBeNull();
    expect(scanBlockBody(Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":-32004,"message":"x"}}'))).toBeNull();
    expect(() => scanned(slot, '{"jsonrpc":"2.0","id":1,"result":null}', chain.mint)).toThrow(/returned null/);
    expect(() =>
      scanned(slot, '{"jsonrpc":"2.0","id":1,"error":{"code":-32004,"message":"gone"}}', chain.mint),
    ).toThrow(/gone/);
    const nested =
      '{"jsonrpc":"2.0","id":1,"result":{"blockTime":null,"other":{"transactions":[1]},"transactions":[]}}';
    expect(scanBlockBody(Buffer.from(nested))?.transactions).toEqual([]);
  });
});
