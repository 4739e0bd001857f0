// Shared by the `tidemark serve` tests: a simulated Kin4 chain with known transfers, ingested by the
// real `run`, then served by the real `serve`, and the clients that read it back.
import { type Address, getAddressEncoder, getBase58Decoder } from "@solana/kit";
import { KinBlockFactory, type SimulatedTransaction, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { expect } from "vitest";
import { Cli, type LogLine, runToEnd } from "./cli-process.js";

export const base58 = getBase58Decoder();
export const addressBytes = (address: string) => new Uint8Array(getAddressEncoder().encode(address as Address));
export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
export const SERVICE = "kin.agora.transaction.v4.Transaction";

/** A transaction the test put on the chain. */
export interface Made {
  readonly id: Uint8Array;
  readonly slot: bigint;
  /** Kin token accounts, as the transfers move them. */
  readonly payments: readonly { source: string; destination: string; amount: bigint; index: number }[];
  readonly failed: boolean;
}

export interface SimulatedKin {
  readonly server: SolanaRpcServer;
  readonly factory: KinBlockFactory;
  readonly made: readonly Made[];
  readonly firstSlot: bigint;
  readonly lastSlot: bigint;
  /** Wallet 0's Kin account: in more than one page of history. */
  readonly busy: string;
}

/** The signature of a transaction with one signer: after the signature count (one byte below 128). */
function signatureOf(tx: SimulatedTransaction): Uint8Array {
  expect(tx.bytes[0], "one signature").toBe(1);
  return tx.bytes.slice(1, 65);
}

/**
 * A chain of `blocks` blocks of ten transfers from wallet 0 (so its history
 * spans pages), plus, in the last block, a batch payment and a failed
 * transfer, served by the simulated Solana RPC node.
 */
export async function simulateKin(seed: string, blocks: number): Promise<SimulatedKin> {
  const factory = await KinBlockFactory.create({ seed });
  const chain = new SolanaChain();
  const made: Made[] = [];
  const firstSlot = 7000n;
  const kin = (wallet: number) => factory.wallet(wallet).kinAccount as string;
  let n = 0;
  for (let b = 0; b < blocks; b++) {
    const slot = firstSlot + BigInt(b);
    const txs: SimulatedTransaction[] = [];
    const entries: Made[] = [];
    for (let i = 0; i < 10; i++, n++) {
      const to = 1 + (n % 3);
      const amount = 1000n + BigInt(n);
      const tx = await factory.transfer(0, to, amount);
      txs.push(tx);
      entries.push({
        id: signatureOf(tx),
        slot,
        payments: [{ source: kin(0), destination: kin(to), amount, index: 0 }],
        failed: false,
      });
    }
    if (b === blocks - 1) {
      const batch = await factory.batchTransfer(4, [1, 2], 77n);
      txs.push(batch);
      entries.push({
        id: signatureOf(batch),
        slot,
        payments: [
          { source: kin(4), destination: kin(1), amount: 77n, index: 0 },
          { source: kin(4), destination: kin(2), amount: 77n, index: 1 },
        ],
        failed: false,
      });
      const failed = await factory.transfer(5, 4, 5n, { fail: true });
      txs.push(failed);
      entries.push({
        id: signatureOf(failed),
        slot,
        payments: [{ source: kin(5), destination: kin(4), amount: 5n, index: 0 }],
        failed: true,
      });
    }
    chain.append(txs, { slot });
    made.push(...entries);
  }
  const server = await SolanaRpcServer.start({ chain });
  return { server, factory, made, firstSlot, lastSlot: firstSlot + BigInt(blocks - 1), busy: kin(0) };
}

/** `tidemark run` from the simulated node into `store`, up to the last block; fails the test if it does not exit 0. */
export async function ingest(kin: SimulatedKin, storeArgs: readonly string[], cwd: string): Promise<void> {
  const { code, stderr, stdout } = await runToEnd(
    [
      "run",
      "--rpc",
      kin.server.url,
      ...storeArgs,
      "--from",
      String(kin.firstSlot - 1n),
      "--until",
      String(kin.lastSlot),
      "--status",
      "off",
    ],
    cwd,
  );
  expect(code, `${stderr}\n${JSON.stringify(stdout.slice(-5))}`).toBe(0);
}

export interface Serving {
  readonly cli: Cli;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly baseUrl: string;
  /** The log line that says where it listens. */
  readonly listening: LogLine;
}

/** `tidemark serve ARGS --port 0 --metrics-port 0`, once it listens; it serves the test file's tests. */
export async function startServe(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Serving> {
  const cli = new Cli(["serve", ...args, "--port", "0", "--metrics-port", "0"], {
    cwd,
    fileScoped: true,
    ...(env ? { env } : {}),
  });
  const listening = await cli.waitFor((line) => typeof line.grpcPort === "number", 60_000);
  const metrics = await cli.waitFor((line) => typeof line.port === "number");
  const grpcPort = listening.grpcPort as number;
  return { cli, grpcPort, metricsPort: metrics.port as number, baseUrl: `http://127.0.0.1:${grpcPort}`, listening };
}

export interface JsonReply {
  readonly status: number;
  readonly body: Record<string, unknown> & { code?: string; message?: string };
  readonly text: string;
}

/** One Connect unary call with JSON over HTTP/1.1 and nothing but `fetch`, as any HTTP client can make it. */
export async function connectJson(baseUrl: string, method: string, request: unknown): Promise<JsonReply> {
  const response = await fetch(`${baseUrl}/${SERVICE}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof request === "string" ? request : JSON.stringify(request),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as JsonReply["body"] };
}

interface JsonItem {
  readonly transactionId: { value: string };
  readonly cursor: { value: string };
}

/** An account's whole history through Connect JSON GetHistory, page after page: the base58 ids and the number of pages. */
export async function historyViaJson(
  baseUrl: string,
  account: string,
  direction: "ASC" | "DESC",
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const reply = await connectJson(baseUrl, "GetHistory", {
      accountId: { value: base64(addressBytes(account)) },
      direction,
      ...(cursor ? { cursor: { value: cursor } } : {}),
    });
    expect(reply.status, reply.text).toBe(200);
    const items = (reply.body.items ?? []) as JsonItem[];
    expect(items.length).toBeLessThanOrEqual(100);
    ids.push(...items.map((item) => base58.decode(Buffer.from(item.transactionId.value, "base64"))));
    if (items.length < 100) return { ids, pages };
    cursor = items.at(-1)?.cursor.value;
  }
}

/** What `tidemark history account --json` prints for the account: the base58 ids. */
export async function historyViaCli(
  account: string,
  storeArgs: readonly string[],
  order: "asc" | "desc",
  cwd: string,
): Promise<string[]> {
  const { code, stdout, stderr } = await runToEnd(
    ["history", "account", account, ...storeArgs, "--order", order, "--limit", "100000", "--json"],
    cwd,
  );
  expect(code, stderr).toBe(0);
  return stdout.map((line) => line.txId as string);
}

/** A Prometheus sample's value, 0 when the series is absent. */
export function sampleOf(metrics: string, series: string): number {
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
