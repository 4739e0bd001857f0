import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, createHandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { type Address, getAddressEncoder, getBase58Decoder } from "@solana/kit";
import { StrKey } from "@stellar/stellar-sdk";
import { encodedCodec, type Logger, MemoryLock, MemoryLockServer, run } from "@tidemark/core";
import { SqliteCommitter, SqliteHistoryStore } from "@tidemark/sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTransactionService,
  GetHistoryRequest_Direction,
  GetHistoryRequestSchema,
  type GetHistoryResponse,
  GetHistoryResponseSchema,
  GetTransactionResponse_State,
  type HistoryItem,
  Transaction,
  TransactionError_Reason,
} from "../src/agora/index.js";
import {
  createSolanaEntry,
  type Entry,
  KIN3_MAINNET,
  KinSolanaIngestor,
  KinStellarIngestor,
  KinVersion,
  kinHistoryCodec,
  solanaPointer,
  stellarBody,
  stellarPointer,
  storedKinHistoryCodec,
} from "../src/index.js";
import {
  HorizonServer,
  KinBlockFactory,
  type SimulatedTransaction,
  SolanaChain,
  SolanaRpcServer,
  StellarLedgers,
  StellarTransactionFactory,
} from "../src/simulator/index.js";

const base58 = getBase58Decoder();
const addressBytes = (address: string) => new Uint8Array(getAddressEncoder().encode(address as Address));
const hex = (value: Uint8Array) => Buffer.from(value).toString("hex");
/** The bytes of an optional id, cursor or account message. */
const bytes = (message: { value: Uint8Array } | undefined) => message?.value ?? new Uint8Array();
const b58 = (message: { value: Uint8Array } | undefined) => base58.decode(bytes(message));

/** A Kin4 transaction the test put on the chain, and what agora must report for it. */
interface Made {
  readonly id: Uint8Array;
  readonly slot: bigint;
  readonly bytes: Uint8Array;
  /** The Kin token accounts it touches (its place in their histories). */
  readonly accounts: ReadonlySet<string>;
  readonly payments: readonly { source: string; destination: string; amount: bigint; index: number }[];
}

/** A Kin3 payment the test put on the Horizon history. */
interface MadeStellar {
  readonly hash: string;
  readonly from: string;
  readonly to: string;
}

const FIRST_SLOT = 5000n;
const TRAFFIC_BLOCKS = 60;
const KIN3_FIRST_LEDGER = 40_000_000;
const KIN3_LEDGERS = 12;

/** Both sides of a call's failure: its gRPC code and message. */
async function refusal(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await call;
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("the call succeeded");
}

describe("agora's Transaction v4 service (GetHistory, GetTransaction) over gRPC", () => {
  const made: Made[] = [];
  const madeStellar: MadeStellar[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const logged: { fields: object; message?: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (fields, message) => logged.push({ fields, ...(message === undefined ? {} : { message }) }),
  };
  let dir: string;
  let factory: KinBlockFactory;
  let stellarTxs: StellarTransactionFactory;
  let rpc: SolanaRpcServer;
  let horizon: HorizonServer;
  let committer: SqliteCommitter;
  let kin4: SqliteHistoryStore<Entry>;
  let kin3: SqliteHistoryStore<Entry>;
  let closedStore: SqliteHistoryStore<Entry>;
  let server: http2.Http2Server;
  let client: Client<typeof Transaction>;
  let failing: Client<typeof Transaction>;
  /** A server with no Kin3 reader, as `serve` runs for Kin4 alone after the move. */
  let kin4Only: Client<typeof Transaction>;
  /** Kin4 from a reader of stored bytes, GetHistory items pre-encoded. */
  let encoded: Client<typeof Transaction>;
  let storedKin4: SqliteHistoryStore<Uint8Array>;
  let chain: SolanaChain;

  const record = (tx: SimulatedTransaction, slot: bigint, accounts: string[], payments: Made["payments"] = []) =>
    made.push({ id: tx.bytes.slice(1, 65), slot, bytes: tx.bytes, accounts: new Set(accounts), payments });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tidemark-agora-"));
    const path = join(dir, "history.db");

    // A Kin4 chain: every kind of Kin transfer once, then enough traffic through wallet 0 for several pages.
    factory = await KinBlockFactory.create({ seed: "agora-service" });
    const w = (i: number) => factory.wallet(i).kinAccount;
    chain = new SolanaChain();
    const first: SimulatedTransaction[] = [];
    const plain = await factory.transfer(0, 1, 1_000n);
    record(plain, FIRST_SLOT, [w(0), w(1)], [{ source: w(0), destination: w(1), amount: 1_000n, index: 0 }]);
    const batch = await factory.batchTransfer(2, [0, 1], 500n);
    record(
      batch,
      FIRST_SLOT,
      [w(2), w(0), w(1)],
      [
        { source: w(2), destination: w(0), amount: 500n, index: 0 },
        { source: w(2), destination: w(1), amount: 500n, index: 1 },
      ],
    );
    const failed = await factory.transfer(0, 1, 10n ** 15n, { fail: true });
    record(failed, FIRST_SLOT, [w(0), w(1)], [{ source: w(0), destination: w(1), amount: 10n ** 15n, index: 0 }]);
    // agora reads top-level Transfer instructions only: TransferChecked and CPI transfers carry no payment.
    const checked = await factory.transfer(1, 0, 300n, { checked: true });
    record(checked, FIRST_SLOT, [w(1), w(0)]);
    const cpi = await factory.cpiTransfer(1, 0, 250n);
    record(cpi, FIRST_SLOT, [w(1), w(0)]);
    const elsewhere = await factory.transfer(3, 4, 7n);
    record(elsewhere, FIRST_SLOT, [w(3), w(4)], [{ source: w(3), destination: w(4), amount: 7n, index: 0 }]);
    first.push(plain, batch, failed, checked, cpi, elsewhere);
    chain.append(first, { slot: FIRST_SLOT });
    for (let i = 0; i < TRAFFIC_BLOCKS; i++) {
      const slot = FIRST_SLOT + 1n + BigInt(i);
      const out = 1 + (i % 5);
      const back = 1 + ((i + 2) % 5);
      const a = await factory.transfer(0, out, 100n + BigInt(i));
      const b = await factory.transfer(back, 0, 200n + BigInt(i));
      record(a, slot, [w(0), w(out)], [{ source: w(0), destination: w(out), amount: 100n + BigInt(i), index: 0 }]);
      record(b, slot, [w(back), w(0)], [{ source: w(back), destination: w(0), amount: 200n + BigInt(i), index: 0 }]);
      chain.append([a, b], { slot });
    }
    rpc = await SolanaRpcServer.start({ chain });

    // A Kin3 history of payments on Horizon.
    stellarTxs = new StellarTransactionFactory(KIN3_MAINNET, "agora-service");
    const ledgers = new StellarLedgers();
    for (let i = 0; i < KIN3_LEDGERS; i++) {
      const payment = stellarTxs.payment(i % 3, (i + 1) % 3, "10.5");
      madeStellar.push({ hash: payment.hash, from: stellarTxs.address(i % 3), to: stellarTxs.address((i + 1) % 3) });
      ledgers.append([payment], i === 0 ? { sequence: KIN3_FIRST_LEDGER } : {});
    }
    horizon = await HorizonServer.start({ ledgers, networkPassphrase: KIN3_MAINNET.passphrase });

    // The real ingestors, through `run`, into SQLite history stores.
    committer = new SqliteCommitter({ path });
    kin4 = new SqliteHistoryStore({ path, codec: kinHistoryCodec, ingestor: "history_KIN4" });
    kin3 = new SqliteHistoryStore({
      path,
      codec: kinHistoryCodec,
      ingestor: "history_KIN3",
      table: "kin3_history",
      accountTable: "kin3_history_accounts",
    });
    const locks = new MemoryLockServer();
    const solanaIngestor = new KinSolanaIngestor({
      rpcUrl: rpc.url,
      startSlot: FIRST_SLOT,
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
    });
    await run({
      signal: AbortSignal.timeout(60_000),
      lock: new MemoryLock({ server: locks, key: solanaIngestor.name, leaseMs: 3000 }),
      committer,
      writer: kin4,
      ingestor: solanaIngestor,
      until: solanaPointer(FIRST_SLOT + BigInt(TRAFFIC_BLOCKS)),
    });
    const stellarIngestor = new KinStellarIngestor({
      horizonUrl: horizon.url,
      allowHttp: true,
      version: KinVersion.KIN3,
      networkPassphrase: KIN3_MAINNET.passphrase,
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
    });
    await run({
      signal: AbortSignal.timeout(60_000),
      lock: new MemoryLock({ server: locks, key: stellarIngestor.name, leaseMs: 3000 }),
      committer,
      writer: kin3,
      ingestor: stellarIngestor,
      until: stellarPointer(KinVersion.KIN3, KIN3_FIRST_LEDGER + KIN3_LEDGERS - 1),
    });
    closedStore = new SqliteHistoryStore({ path, codec: kinHistoryCodec, ingestor: "history_KIN4" });
    await closedStore.close();

    // One in-process server: the service over the stores, and over a store that fails every read.
    const service = createTransactionService({
      history: (v) => (v === KinVersion.KIN4 ? kin4 : v === KinVersion.KIN3 ? kin3 : undefined),
    });
    const broken = createTransactionService({ history: () => closedStore, logger });
    const working = connectNodeAdapter({ routes: (router) => router.service(Transaction, service) });
    const failingHandler = connectNodeAdapter({
      routes: (router) => router.service(Transaction, broken),
      requestPathPrefix: "/broken",
    });
    const kin4OnlyService = createTransactionService({ history: (v) => (v === KinVersion.KIN4 ? kin4 : undefined) });
    const kin4OnlyHandler = connectNodeAdapter({
      routes: (router) => router.service(Transaction, kin4OnlyService),
      requestPathPrefix: "/kin4-only",
    });
    // Stored bytes in, pre-encoded items out: what `tidemark serve` runs.
    storedKin4 = new SqliteHistoryStore({ path, codec: storedKinHistoryCodec, ingestor: "history_KIN4" });
    const encodedHandler = connectNodeAdapter({
      routes: (router) =>
        router.service(
          Transaction,
          createTransactionService({
            history: (v) => (v === KinVersion.KIN4 ? storedKin4 : undefined),
            encodedItems: true,
          }),
        ),
      requestPathPrefix: "/encoded",
    });
    server = http2.createServer((request, response) =>
      (request.url.startsWith("/broken/")
        ? failingHandler
        : request.url.startsWith("/kin4-only/")
          ? kin4OnlyHandler
          : request.url.startsWith("/encoded/")
            ? encodedHandler
            : working)(request, response),
    );
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    client = createClient(Transaction, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    failing = createClient(Transaction, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}/broken` }));
    kin4Only = createClient(Transaction, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}/kin4-only` }));
    encoded = createClient(Transaction, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}/encoded` }));
  }, 120_000);

  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await kin4?.close();
    await storedKin4?.close();
    await kin3?.close();
    await committer?.close();
    await rpc?.close();
    await horizon?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The account's Kin4 history as the chain says it must be: ordering-key order (slot, then the id's first 8 bytes). */
  const expectedHistory = (account: string) =>
    made
      .filter((m) => m.accounts.has(account))
      .sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : Buffer.compare(a.id, b.id)))
      .map((m) => base58.decode(m.id));

  /** Every page of an account's history, following the cursors until an empty page. */
  async function allPages(account: Uint8Array, direction: GetHistoryRequest_Direction) {
    const pages: HistoryItem[][] = [];
    let cursor: Uint8Array | undefined;
    for (let i = 0; i < 20; i++) {
      const response = await client.getHistory({
        accountId: { value: account },
        direction,
        ...(cursor ? { cursor: { value: cursor } } : {}),
      });
      if (response.items.length === 0) return pages;
      pages.push(response.items);
      cursor = response.items.at(-1)?.cursor?.value;
    }
    throw new Error("paging did not end");
  }
  const idsOf = (items: readonly HistoryItem[]) => items.map((item) => b58(item.transactionId));

  describe("GetTransaction", () => {
    it("returns a Kin transfer as agora does: SUCCESS, slot, raw transaction, cursor, time and its payment", async () => {
      const plain = made[0] as Made;
      const response = await client.getTransaction({ transactionId: { value: plain.id } });
      expect(response.state).toBe(GetTransactionResponse_State.SUCCESS);
      expect(response.slot).toBe(FIRST_SLOT.toString());
      const item = response.item as HistoryItem;
      expect(hex(bytes(item.transactionId))).toBe(hex(plain.id));
      expect(item.rawTransaction.case).toBe("solanaTransaction");
      if (item.rawTransaction.case === "solanaTransaction")
        expect(hex(item.rawTransaction.value.value)).toBe(hex(plain.bytes));
      // agora's cursor is the ordering key: version 4, the big-endian slot, the id's first 8 bytes.
      const key = Buffer.alloc(17);
      key[0] = 4;
      key.writeBigUInt64BE(FIRST_SLOT, 1);
      Buffer.from(plain.id.subarray(0, 8)).copy(key, 9);
      expect(hex(bytes(item.cursor))).toBe(key.toString("hex"));
      expect(item.transactionError).toBeUndefined();
      expect(item.payments.map((p) => [b58(p.source), b58(p.destination)])).toEqual(
        plain.payments.map((p) => [p.source, p.destination]),
      );
      expect(item.payments.map((p) => [p.amount, p.index])).toEqual(plain.payments.map((p) => [p.amount, p.index]));
      const blockTime = chain.block(FIRST_SLOT)?.blockTime as number;
      expect(timestampDate(item.transactionTime as NonNullable<HistoryItem["transactionTime"]>).getTime()).toBe(
        blockTime * 1000,
      );
    });

    it("reports every payment of the simulator's transactions, and none for TransferChecked or CPI transfers", async () => {
      for (const m of made) {
        const { item } = await client.getTransaction({ transactionId: { value: m.id } });
        const payments = (item?.payments ?? []).map((p) => ({
          source: b58(p.source),
          destination: b58(p.destination),
          amount: p.amount,
          index: p.index,
        }));
        expect(payments, base58.decode(m.id)).toEqual(m.payments);
      }
    });

    it("reports a failed transfer FAILED, with agora's mapping of the Solana error", async () => {
      const failed = made[2] as Made;
      const response = await client.getTransaction({ transactionId: { value: failed.id } });
      expect(response.state).toBe(GetTransactionResponse_State.FAILED);
      const error = response.item?.transactionError;
      expect(error?.reason).toBe(TransactionError_Reason.INSUFFICIENT_FUNDS);
      expect(error?.instructionIndex).toBe(0);
      expect(Buffer.from(error?.raw ?? []).toString()).toBe('{"InstructionError":[0,{"Custom":1}]}');
      expect(response.item?.payments.length).toBe(1);
    });

    it("answers UNKNOWN, not an error, for a transaction it does not have (signature or hash)", async () => {
      const unknown = await client.getTransaction({ transactionId: { value: new Uint8Array(64).fill(7) } });
      expect(unknown.state).toBe(GetTransactionResponse_State.UNKNOWN);
      expect(unknown.item).toBeUndefined();
      const unknownHash = await client.getTransaction({ transactionId: { value: new Uint8Array(32).fill(7) } });
      expect(unknownHash.state).toBe(GetTransactionResponse_State.UNKNOWN);
    });

    it("does not show an entry of a block that is not committed", async () => {
      const extra = await factory.transfer(0, 1, 42n);
      await kin4.write(
        createSolanaEntry({ slot: FIRST_SLOT + BigInt(TRAFFIC_BLOCKS) + 10n, transaction: extra.bytes }),
      );
      const response = await client.getTransaction({ transactionId: { value: extra.bytes.slice(1, 65) } });
      expect(response.state).toBe(GetTransactionResponse_State.UNKNOWN);
      const newest = await client.getHistory({
        accountId: { value: addressBytes(factory.wallet(0).kinAccount) },
        direction: GetHistoryRequest_Direction.DESC,
      });
      expect(idsOf(newest.items)[0]).toBe(expectedHistory(factory.wallet(0).kinAccount).at(-1));
    });

    it("returns a Kin3 payment by its hash: the Stellar envelope and result, and the payment agora reads", async () => {
      const payment = madeStellar[1] as MadeStellar;
      const response = await client.getTransaction({ transactionId: { value: Buffer.from(payment.hash, "hex") } });
      expect(response.state).toBe(GetTransactionResponse_State.SUCCESS);
      const item = response.item as HistoryItem;
      expect(hex(bytes(item.transactionId))).toBe(payment.hash);
      expect(item.rawTransaction.case).toBe("stellarTransaction");
      const stored = await kin3.getTransaction(Buffer.from(payment.hash, "hex"));
      const stellar = item.rawTransaction.value as { envelopeXdr: Uint8Array; resultXdr: Uint8Array };
      expect(hex(stellar.envelopeXdr)).toBe(hex(stellarBody(stored as Entry).envelopeXdr));
      expect(hex(stellar.resultXdr)).toBe(hex(stellarBody(stored as Entry).resultXdr));
      // Stellar keys as Solana account ids; the amount as the XDR holds it (10.5 at 7 decimals).
      expect(
        item.payments.map((p) => [
          StrKey.encodeEd25519PublicKey(Buffer.from(p.source?.value ?? [])),
          StrKey.encodeEd25519PublicKey(Buffer.from(p.destination?.value ?? [])),
          p.amount,
          p.index,
        ]),
      ).toEqual([[payment.from, payment.to, 105_000_000n, 0]]);
      expect(item.cursor?.value.length).toBe(9);
      expect(item.cursor?.value[0]).toBe(KinVersion.KIN3);
    });

    it("refuses a transaction id of the wrong length, or none, with INVALID_ARGUMENT naming the field", async () => {
      for (const size of [0, 31, 33, 63, 65]) {
        const refused = await refusal(client.getTransaction({ transactionId: { value: new Uint8Array(size) } }));
        expect(refused.code, `${size} bytes`).toBe(Code.InvalidArgument);
        expect(refused.message).toMatch(/^transaction_id\.value: /);
        expect(refused.message).toContain(`${size} bytes`);
      }
      const missing = await refusal(client.getTransaction({}));
      expect(missing).toEqual({ code: Code.InvalidArgument, message: "transaction_id: is required" });
    });

    it("answers INTERNAL with agora's fixed message when the store fails, logging the real error", async () => {
      logged.length = 0;
      const refused = await refusal(failing.getTransaction({ transactionId: { value: (made[0] as Made).id } }));
      expect(refused).toEqual({ code: Code.Internal, message: "failed to load transaction" });
      expect(logged.length).toBe(1);
      expect((logged[0]?.fields as { err?: unknown } | undefined)?.err).toBeInstanceOf(Error);
      const history = await refusal(failing.getHistory({ accountId: { value: new Uint8Array(32) } }));
      expect(history).toEqual({ code: Code.Internal, message: "failed to get transactions" });
      expect(logged.length).toBe(2);
    });
  });

  describe("GetHistory", () => {
    it("pages through a token account's history ascending: pages of 100, concatenated they are the whole history", async () => {
      const account = factory.wallet(0).kinAccount;
      const expected = expectedHistory(account);
      expect(expected.length).toBeGreaterThan(100);
      const pages = await allPages(addressBytes(account), GetHistoryRequest_Direction.ASC);
      expect(pages.map((p) => p.length)).toEqual([100, expected.length - 100]);
      expect(pages.flatMap(idsOf)).toEqual(expected);
      // The same as the store lists under the account.
      const stored = await kin4.getAccountHistory(account, { limit: 1000 });
      expect(pages.flatMap(idsOf)).toEqual(stored.map((e) => base58.decode(kinHistoryCodec.transactionId(e))));
    });

    it("pages descending from the newest, the exact reverse", async () => {
      const account = factory.wallet(0).kinAccount;
      const pages = await allPages(addressBytes(account), GetHistoryRequest_Direction.DESC);
      expect(pages[0]?.length).toBe(100);
      expect(pages.flatMap(idsOf)).toEqual(expectedHistory(account).reverse());
    });

    it("continues from any item's cursor in either direction", async () => {
      const account = addressBytes(factory.wallet(0).kinAccount);
      const expected = expectedHistory(factory.wallet(0).kinAccount);
      const [page] = await allPages(account, GetHistoryRequest_Direction.ASC);
      const middle = (page as HistoryItem[])[40] as HistoryItem;
      const after = await client.getHistory({ accountId: { value: account }, cursor: middle.cursor });
      expect(idsOf(after.items)).toEqual(expected.slice(41, 141));
      const before = await client.getHistory({
        accountId: { value: account },
        cursor: middle.cursor,
        direction: GetHistoryRequest_Direction.DESC,
      });
      expect(idsOf(before.items)).toEqual(expected.slice(0, 40).reverse());
    });

    it("answers gRPC with the same bytes from stored entries and pre-encoded items as from decoded entries", async () => {
      for (const wallet of [0, 2]) {
        const account = addressBytes(factory.wallet(wallet).kinAccount);
        const [page] = await allPages(account, GetHistoryRequest_Direction.ASC);
        for (const direction of [GetHistoryRequest_Direction.ASC, GetHistoryRequest_Direction.DESC]) {
          for (const cursor of [undefined, (page as HistoryItem[])[5]?.cursor]) {
            const request = { accountId: { value: account }, direction, ...(cursor ? { cursor } : {}) };
            const [fromEntries, fromBytes] = await Promise.all([
              client.getHistory(request),
              encoded.getHistory(request),
            ]);
            expect(fromBytes.items.length).toBeGreaterThan(0);
            expect(toBinary(GetHistoryResponseSchema, fromBytes)).toEqual(
              toBinary(GetHistoryResponseSchema, fromEntries),
            );
          }
        }
      }
    });

    it("answers the same from a reader of stored bytes, called directly with a Buffer cursor it leaves as it was", async () => {
      const stored = new SqliteHistoryStore({
        path: join(dir, "history.db"),
        codec: encodedCodec(kinHistoryCodec),
        ingestor: "history_KIN4",
      });
      try {
        const service = createTransactionService({ history: (v) => (v === KinVersion.KIN4 ? stored : undefined) });
        const account = addressBytes(factory.wallet(0).kinAccount);
        const [page] = await allPages(account, GetHistoryRequest_Direction.ASC);
        const middle = (page as HistoryItem[])[40] as HistoryItem;
        // A Node Buffer, as a server that reads the request itself may hand over; its slice() is a view.
        const cursor = Buffer.from(middle.cursor?.value ?? []);
        const unchanged = Buffer.from(cursor);
        for (const direction of [GetHistoryRequest_Direction.ASC, GetHistoryRequest_Direction.DESC]) {
          const context = createHandlerContext({
            service: Transaction,
            method: Transaction.method.getHistory,
            protocolName: "direct",
            requestMethod: "POST",
            url: "/",
          });
          const request = create(GetHistoryRequestSchema, {
            accountId: { value: account },
            cursor: { value: cursor },
            direction,
          });
          const direct = await service.getHistory?.(request, context);
          expect(cursor).toEqual(unchanged);
          const decoded = await client.getHistory({ accountId: { value: account }, cursor: middle.cursor, direction });
          expect(toBinary(GetHistoryResponseSchema, direct as GetHistoryResponse)).toEqual(
            toBinary(GetHistoryResponseSchema, decoded),
          );
          expect(decoded.items.length).toBeGreaterThan(30);
        }
      } finally {
        await stored.close();
      }
    });

    it("finds a wallet's history by its owner address too, and payments name token accounts", async () => {
      const wallet = factory.wallet(3);
      const byOwner = await allPages(addressBytes(wallet.owner.address), GetHistoryRequest_Direction.ASC);
      expect(byOwner.flatMap(idsOf)).toEqual(expectedHistory(wallet.kinAccount));
      const byAccount = await allPages(addressBytes(wallet.kinAccount), GetHistoryRequest_Direction.ASC);
      expect(byAccount.flatMap(idsOf)).toEqual(expectedHistory(wallet.kinAccount));
    });

    it("finds a Kin3 account under agora's key and returns its Stellar items in ledger order", async () => {
      const account = stellarTxs.address(1);
      const pages = await allPages(StrKey.decodeEd25519PublicKey(account), GetHistoryRequest_Direction.ASC);
      const expected = madeStellar.filter((m) => m.from === account || m.to === account).map((m) => m.hash);
      expect(pages.flat().map((item) => hex(bytes(item.transactionId)))).toEqual(expected);
    });

    it("accepts a Horizon paging token as a cursor, read for the caller's Kin version as agora does", async () => {
      const account = stellarTxs.address(1);
      const id = StrKey.decodeEd25519PublicKey(account);
      const items = (await allPages(id, GetHistoryRequest_Direction.ASC)).flat();
      const third = await kin3.getTransaction(items[2]?.transactionId?.value as Uint8Array);
      const token = new TextEncoder().encode(stellarBody(third as Entry).pagingToken.toString());
      const kin3Header = { headers: { "kin-version": "3" } };
      const after = await client.getHistory({ accountId: { value: id }, cursor: { value: token } }, kin3Header);
      expect(after.items.map((i) => hex(bytes(i.cursor)))).toEqual(items.slice(3).map((i) => hex(bytes(i.cursor))));
      const before = await client.getHistory(
        { accountId: { value: id }, cursor: { value: token }, direction: GetHistoryRequest_Direction.DESC },
        kin3Header,
      );
      expect(before.items.length).toBe(2);
      // Without the header agora assumes Kin3 too; a Kin4 caller's token is read as Kin2, below every Kin3 entry.
      const bare = await client.getHistory({ accountId: { value: id }, cursor: { value: token } });
      expect(bare.items.length).toBe(after.items.length);
      const fromKin4 = await client.getHistory(
        { accountId: { value: id }, cursor: { value: token } },
        { headers: { "kin-version": "4" } },
      );
      expect(fromKin4.items.length).toBe(items.length);
    });

    it("answers an empty page for an account without history", async () => {
      const response = await client.getHistory({ accountId: { value: new Uint8Array(32).fill(9) } });
      expect(response.items).toEqual([]);
    });

    it("refuses a cursor of another account's history with INVALID_ARGUMENT naming the cursor", async () => {
      const [page] = await allPages(addressBytes(factory.wallet(0).kinAccount), GetHistoryRequest_Direction.ASC);
      // The first item is wallet 0 paying wallet 1: not in wallet 3's history.
      const foreign = (page as HistoryItem[])[0]?.cursor;
      for (const direction of [GetHistoryRequest_Direction.ASC, GetHistoryRequest_Direction.DESC]) {
        const refused = await refusal(
          client.getHistory({
            accountId: { value: addressBytes(factory.wallet(3).kinAccount) },
            cursor: foreign,
            direction,
          }),
        );
        expect(refused.code).toBe(Code.InvalidArgument);
        expect(refused.message).toBe("cursor.value: is not a cursor of account_id's history");
      }
      // The same for a Kin3 cursor: the first payment (0 to 1) is not in Stellar account 2's history.
      const [kin3Foreign] = await allStellarCursors(0);
      const refused = await refusal(
        client.getHistory({
          accountId: { value: StrKey.decodeEd25519PublicKey(stellarTxs.address(2)) },
          cursor: { value: kin3Foreign as Uint8Array },
        }),
      );
      expect(refused).toEqual({
        code: Code.InvalidArgument,
        message: "cursor.value: is not a cursor of account_id's history",
      });
    });

    /** The cursors of a Stellar account's items, ascending. */
    async function allStellarCursors(account: number): Promise<Uint8Array[]> {
      const id = StrKey.decodeEd25519PublicKey(stellarTxs.address(account));
      return (await allPages(id, GetHistoryRequest_Direction.ASC)).flat().map((item) => bytes(item.cursor));
    }

    /** A Kin4 ordering key that names no entry: `slot`, then eight `fill` bytes. */
    const kin4Position = (slot: bigint, fill: number) => {
      const key = Buffer.alloc(17, fill);
      key[0] = KinVersion.KIN4;
      key.writeBigUInt64BE(slot, 1);
      return new Uint8Array(key);
    };

    it("uses an agora cursor that names no entry as a position, as agora does, in either direction", async () => {
      const wallet = factory.wallet(0).kinAccount;
      const account = addressBytes(wallet);
      const expected = expectedHistory(wallet);
      const slotOf = new Map(made.map((m) => [base58.decode(m.id), m.slot]));
      // Older than the ingested history (the history was ingested from a later slot than the client's cursor).
      const older = { value: kin4Position(FIRST_SLOT - 1000n, 0xab) };
      const fromOlder = await client.getHistory({ accountId: { value: account }, cursor: older });
      expect(idsOf(fromOlder.items)).toEqual(expected.slice(0, 100));
      const beforeOlder = await client.getHistory({
        accountId: { value: account },
        cursor: older,
        direction: GetHistoryRequest_Direction.DESC,
      });
      expect(beforeOlder.items).toEqual([]);
      // Inside an ingested slot that has entries, but at a key none of them has.
      const slot = FIRST_SLOT + 10n;
      const inside = { value: kin4Position(slot, 0) };
      const after = await client.getHistory({ accountId: { value: account }, cursor: inside });
      expect(idsOf(after.items)).toEqual(expected.filter((id) => (slotOf.get(id) as bigint) >= slot).slice(0, 100));
      const before = await client.getHistory({
        accountId: { value: account },
        cursor: inside,
        direction: GetHistoryRequest_Direction.DESC,
      });
      expect(idsOf(before.items)).toEqual(
        expected
          .filter((id) => (slotOf.get(id) as bigint) < slot)
          .reverse()
          .slice(0, 100),
      );
      expect(before.items.length).toBeGreaterThan(0);
      // A Kin3 position older than the ingested ledgers: the whole Kin3 history follows.
      const stellarAccount = StrKey.decodeEd25519PublicKey(stellarTxs.address(1));
      const oldKin3 = new Uint8Array(9);
      oldKin3[0] = KinVersion.KIN3;
      new DataView(oldKin3.buffer).setBigUint64(1, BigInt(KIN3_FIRST_LEDGER - 5) << 32n);
      const stellar = await client.getHistory({ accountId: { value: stellarAccount }, cursor: { value: oldKin3 } });
      expect(stellar.items.map((i) => hex(bytes(i.cursor)))).toEqual((await allStellarCursors(1)).map(hex));
    });

    it("continues a Kin3 cursor into Kin4 when no Kin3 reader is served, as agora orders versions", async () => {
      const wallet = factory.wallet(0).kinAccount;
      const account = addressBytes(wallet);
      const kin3Cursor = { value: (await allStellarCursors(1)).at(-1) as Uint8Array };
      expect(kin3Cursor.value[0]).toBe(KinVersion.KIN3);
      // Ordering keys compare as bytes: every Kin4 key (version byte 4) follows a Kin3 one, no Kin2 one precedes it here.
      const after = await kin4Only.getHistory({ accountId: { value: account }, cursor: kin3Cursor });
      expect(idsOf(after.items)).toEqual(expectedHistory(wallet).slice(0, 100));
      const before = await kin4Only.getHistory({
        accountId: { value: account },
        cursor: kin3Cursor,
        direction: GetHistoryRequest_Direction.DESC,
      });
      expect(before.items).toEqual([]);
    });

    it("refuses malformed account ids and cursors with INVALID_ARGUMENT naming the field, never internals", async () => {
      const account = addressBytes(factory.wallet(0).kinAccount);
      const cases: [Parameters<typeof client.getHistory>[0], RegExp][] = [
        [{}, /^account_id: is required$/],
        [{ accountId: { value: new Uint8Array(31) } }, /^account_id\.value: must be 32 bytes, got 31$/],
        [{ accountId: { value: new Uint8Array(33) } }, /^account_id\.value: /],
        [{ accountId: { value: account }, cursor: { value: new Uint8Array() } }, /^cursor\.value: must not be empty$/],
        [{ accountId: { value: account }, cursor: { value: new Uint8Array([4, 1, 2]) } }, /^cursor\.value: /],
        [{ accountId: { value: account }, cursor: { value: new Uint8Array([7, 1, 2]) } }, /^cursor\.value: /],
        [{ accountId: { value: account }, cursor: { value: new TextEncoder().encode("12ab") } }, /^cursor\.value: /],
        [{ accountId: { value: account }, cursor: { value: new Uint8Array(129).fill(4) } }, /^cursor\.value: /],
        [
          { accountId: { value: account }, cursor: { value: new TextEncoder().encode("99999999999999999999") } },
          /^cursor\.value: /,
        ],
      ];
      for (const [request, message] of cases) {
        const refused = await refusal(client.getHistory(request));
        expect(refused.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
        expect(refused.message).toMatch(message);
        expect(refused.message).not.toMatch(/\n\s+at |Error:/);
      }
    });
  });

  it("answers UNIMPLEMENTED for the service's other methods", async () => {
    const refused = await refusal(client.getServiceConfig({}));
    expect(refused.code).toBe(Code.Unimplemented);
  });
});
