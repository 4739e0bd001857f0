import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getBase58Decoder } from "@solana/kit";
import { KinBlockFactory, type SimulatedTransaction, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { beforeAll, describe, expect, it } from "vitest";
import { Cli, runToEnd, workdir } from "./cli-process.js";

// `tidemark serve` against clients nobody here wrote: the official Kin Python SDK (kin-sdk-v2 0.7.1)
// and agora-api 0.26's generated Python stubs, in the venv scripts/python-clients.sh builds.
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const clients = join(repo, "tools", "python-clients");
const python = join(clients, ".venv", "bin", "python");
const base58 = getBase58Decoder();
const dir = workdir();
const store = `sqlite:${join(dir, "served.db")}`;

/** A transaction the simulator made, with the payments agora reads from it. */
interface Sent {
  readonly kind: string;
  readonly id: string;
  readonly payments: readonly { source: string; destination: string; amount: bigint }[];
  readonly failed: boolean;
}

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function finish(file: string, args: readonly string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repo, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Why the Python clients are missing, once the venv failed to build. */
let clientsProblem: string | undefined;

/** Runs one of tools/python-clients/*.py; fails the test with its output unless it exits 0. */
async function client(script: string, ...args: string[]): Promise<Record<string, unknown>[]> {
  // Not a skip: a machine that cannot build the clients fails every test here, with the reason.
  if (clientsProblem !== undefined) throw new Error(clientsProblem);
  const done = await finish(python, [join(clients, script), ...args], 60_000);
  expect(done.code, `${script} ${args.join(" ")}\n${done.stdout}\n${done.stderr}`).toBe(0);
  return done.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const sent: Sent[] = [];
let factory: KinBlockFactory;

beforeAll(async () => {
  const built = await finish("bash", [join(repo, "scripts", "python-clients.sh")], 540_000);
  if (built.code !== 0) {
    clientsProblem = `scripts/python-clients.sh could not build the Python clients (exit ${built.code}):\n${built.stdout}${built.stderr}`;
  }
}, 600_000);

beforeAll(async () => {
  // Three wallets, so wallet 0's token account is in most transfers: more than one 100-item page.
  factory = await KinBlockFactory.create({ seed: "serve-python", wallets: 3 });
  const kin = (i: number): string => factory.wallet(i).kinAccount;
  const add = async (tx: Promise<SimulatedTransaction>, payments: Sent["payments"], failed = false) => {
    const built = await tx;
    // A legacy transaction with one signer: a one-byte count, then the signature that is its id.
    const id = base58.decode(built.bytes.slice(1, 65));
    sent.push({ kind: built.kind ?? "", id, payments, failed });
    return built;
  };
  const transactions: SimulatedTransaction[] = [];
  for (let n = 0; n < 130; n++) {
    const [from, to] = n % 2 === 0 ? [0, 1 + ((n >> 1) % 2)] : [1 + ((n >> 1) % 2), 0];
    const amount = BigInt(n + 1) * 100_000n;
    const checked = n % 13 === 5;
    // agora reads Transfer instructions only: a TransferChecked shows no payment.
    const payments = checked ? [] : [{ source: kin(from), destination: kin(to), amount }];
    transactions.push(await add(factory.transfer(from, to, amount, { checked }), payments));
  }
  transactions.push(
    await add(factory.batchTransfer(1, [0, 2], 700_000n), [
      { source: kin(1), destination: kin(0), amount: 700_000n },
      { source: kin(1), destination: kin(2), amount: 700_000n },
    ]),
    // Failed, but its instruction is still a transfer: agora lists the payment all the same.
    await add(
      factory.transfer(0, 1, 300_000n, { fail: true }),
      [{ source: kin(0), destination: kin(1), amount: 300_000n }],
      true,
    ),
    // Its transfer is an inner instruction: no payment either.
    await add(factory.cpiTransfer(2, 0, 400_000n), []),
    await add(factory.transfer(1, 2, 500_000n), [{ source: kin(1), destination: kin(2), amount: 500_000n }]),
  );
  const chain = new SolanaChain();
  for (let i = 0; i < transactions.length; i += 10) chain.append(transactions.slice(i, i + 10));
  const server = await SolanaRpcServer.start({ chain });
  try {
    const last = chain.tip?.slot as bigint;
    const ingested = await runToEnd(
      ["run", "--rpc", server.url, "--store", store, "--until", last.toString(), "--status", "off"],
      dir,
    );
    expect(ingested.code, ingested.stderr).toBe(0);
  } finally {
    await server.close();
  }
}, 120_000);

/** Runs `tidemark serve` on a free port for `body`, then stops it with SIGTERM. */
async function serving(body: (target: string) => Promise<void>): Promise<void> {
  const serve = new Cli(["serve", "--store", store, "--port", "0"], { cwd: dir });
  try {
    const { grpcPort } = (await serve.waitFor((line) => typeof line.grpcPort === "number")) as { grpcPort: number };
    await body(`127.0.0.1:${grpcPort}`);
  } finally {
    serve.child.kill("SIGTERM");
    await serve.exited;
  }
}

const getTransaction = "/kin.agora.transaction.v4.Transaction/GetTransaction";
const ofKind = (kind: string) => sent.find((s) => s.kind === kind && !s.failed) as Sent;

describe("the Kin Python SDK's Client.get_transaction", () => {
  it("parses the payments of simulated Kin transfers, one GetTransaction call each", async () => {
    await serving(async (target) => {
      for (const transfer of [ofKind("kin-transfer"), ofKind("kin-batch-transfer")]) {
        const [got] = await client("get_transaction.py", target, transfer.id);
        expect(got).toEqual({
          state: "SUCCESS",
          txId: transfer.id,
          payments: transfer.payments.map((p, index) => ({
            sender: p.source,
            destination: p.destination,
            quarks: p.amount.toString(),
            index,
            txType: "UNKNOWN",
            memo: null,
          })),
          error: null,
          rpcs: [getTransaction],
        });
      }
      const failed = sent.find((s) => s.failed) as Sent;
      const [got] = await client("get_transaction.py", target, failed.id);
      expect(got).toMatchObject({
        state: "FAILED",
        txId: failed.id,
        payments: [
          { sender: factory.wallet(0).kinAccount, destination: factory.wallet(1).kinAccount, quarks: "300000" },
        ],
        error: { txError: "InsufficientBalanceError", opErrors: ["InsufficientBalanceError"] },
        rpcs: [getTransaction],
      });
    });
  });

  it("reports an id the history does not have as UNKNOWN, not as an error", async () => {
    await serving(async (target) => {
      const unknown = base58.decode(randomBytes(64));
      const [got] = await client("get_transaction.py", target, unknown);
      expect(got).toEqual({ state: "UNKNOWN", txId: unknown, payments: [], error: null, rpcs: [getTransaction] });
    });
  });
});

describe("GetHistory through agora-api's generated stubs", () => {
  it("pages through an account ascending and descending, the pages adding up to `tidemark history account --json`", async () => {
    const accounts = [
      // In almost every transfer: two pages and more.
      factory.wallet(0).kinAccount,
      // An owner: its history is that of its token accounts.
      factory.wallet(2).owner.address,
    ];
    await serving(async (target) => {
      for (const account of accounts) {
        const printed = await runToEnd(
          ["history", "account", account, "--store", store, "--json", "--limit", "1000000"],
          dir,
        );
        expect(printed.code, printed.stderr).toBe(0);
        const expected = printed.stdout as Record<string, unknown>[];
        expect(expected.length).toBeGreaterThan(0);

        const asc = await client("get_history.py", target, account, "asc");
        const desc = await client("get_history.py", target, account, "desc");
        for (const items of [asc, desc]) {
          const perPage = new Map<unknown, number>();
          for (const item of items) perPage.set(item.page, (perPage.get(item.page) ?? 0) + 1);
          for (const size of perPage.values()) expect(size).toBeLessThanOrEqual(100);
          if (expected.length > 100) expect(perPage.size).toBeGreaterThan(1);
        }
        expect(asc.map(comparable)).toEqual(expected.map(comparable));
        expect(desc.map(comparable)).toEqual(expected.map(comparable).reverse());
        // Each item's cursor continues after it: strictly ascending (as hex of equal length) in the ascending run.
        const cursors = asc.map((item) => item.cursor as string);
        expect(cursors).toEqual([...new Set(cursors)].sort());

        // The payments agora reads: every top-level Transfer instruction, with its index.
        const byId = new Map(sent.map((s) => [s.id, s]));
        for (const item of asc) {
          const made = byId.get(item.txId as string);
          expect(made, `${item.txId} is a transaction the simulator made`).toBeDefined();
          expect(item.payments, `${made?.kind} ${item.txId}`).toEqual(
            made?.payments.map((p, index) => ({ ...p, amount: p.amount.toString(), index })),
          );
        }
        const kinds = new Set(asc.map((item) => byId.get(item.txId as string)?.kind));
        if (account === factory.wallet(0).kinAccount) {
          expect([...kinds].sort()).toEqual([
            "kin-batch-transfer",
            "kin-cpi-transfer",
            "kin-transfer",
            "kin-transfer-checked",
          ]);
        }
      }
    });
  });
});

/** What an item and a `history --json` line have in common; the error as JSON values (agora re-encodes it). */
function comparable(view: Record<string, unknown>) {
  const error = view.transactionError;
  const raw =
    error === null || error === undefined ? null : typeof error === "string" ? error : (error as { raw: string }).raw;
  return {
    txId: view.txId,
    transaction: view.transaction,
    blockTime: view.blockTime,
    transactionError: raw === null ? null : JSON.parse(raw),
  };
}
