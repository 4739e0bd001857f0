// GetHistory benchmark: a history of 100,000 Kin4 entries in each history store
// (SQLite, PostgreSQL, DynamoDB Local, mongo-java-server; servers started here on
// loopback, one at a time), written through each store's own HistoryStore and
// committer, served by the real `tidemark serve` process and read in 100-item
// pages by a few concurrent gRPC clients (Connect). Baselines in the same run, on
// the same store, at the same concurrency: the history reader's
// `getAccountHistory` (limit 100) called directly for agora's key of the
// account, and for both keys a Kin4 page reads (agora's strkey and the base58
// address). Prints requests/s, p50 and p99 of each and the ratios.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as connectHttp2 } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { getAddressEncoder } from "@solana/kit";
import { chainPointers, openStore } from "@tidemark/ingestd";
import {
  agoraAccounts,
  createSolanaEntry,
  KinSolanaIngestor,
  kinHistoryCodec,
  orderingKey,
  solanaBody,
  solanaPointer,
} from "@tidemark/kin";
import { GetHistoryRequest_Direction, GetHistoryRequestSchema, Transaction } from "@tidemark/kin/agora";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { startDynamoDbLocal, startMongoJavaServer, startPostgres } from "@tidemark/test-servers";

const ENTRIES = Number(process.env.SERVE_BENCH_ENTRIES ?? 100_000);
const CLIENTS = Number(process.env.SERVE_BENCH_CLIENTS ?? 4);
const SECONDS = Number(process.env.SERVE_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.SERVE_BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = 1;
const PER_SLOT = 10;
const FIRST_SLOT = 1_000_000n;
const TARGET = 0.7;
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-serve-bench-"));
const { ingestorName } = chainPointers("kin4");

/**
 * A few Kin transfers as the real Kin4 ingestor writes them (metadata
 * included, so each entry is listed under agora's strkeys and the base58
 * token accounts and owners): wallet 0 pays wallets 1-3 and is paid by them.
 */
async function templates() {
  const factory = await KinBlockFactory.create({ seed: "serve-bench" });
  const chain = new SolanaChain();
  const txs = [];
  for (let n = 0; n < 24; n++) {
    const other = 1 + (n % 3);
    txs.push(await (n % 2 === 0 ? factory.transfer(0, other, 1000n + BigInt(n)) : factory.transfer(other, 0, 7n)));
  }
  chain.append(txs, { slot: 10n });
  const rpc = await SolanaRpcServer.start({ chain });
  const controller = new AbortController();
  const entries = [];
  try {
    const ingestor = new KinSolanaIngestor({ rpcUrl: rpc.url });
    const queue = await ingestor.ingest(
      controller.signal,
      { write: async (e) => void entries.push(e) },
      solanaPointer(9n),
    );
    for await (const result of queue) {
      await result;
      break;
    }
  } finally {
    controller.abort();
    await rpc.close();
  }
  const wallet0 = factory.wallet(0).kinAccount;
  // agora's key of wallet 0's Kin account: the strkey of the first transfer's source.
  const strkey = agoraAccounts(entries[0])[0];
  return { entries, account: new Uint8Array(getAddressEncoder().encode(wallet0)), strkey, base58: wallet0 };
}

/** `ENTRIES` entries cloned from the templates, each with its own signature, `PER_SLOT` per slot. */
function history(templateEntries) {
  const out = [];
  for (let i = 0; i < ENTRIES; i++) {
    const template = solanaBody(templateEntries[i % templateEntries.length]);
    const transaction = template.transaction.slice();
    // One signature (count byte 1), then 64 bytes: a unique id per entry.
    transaction.set(createHash("sha512").update(`serve-bench/${i}`).digest(), 1);
    out.push(
      createSolanaEntry({
        slot: FIRST_SLOT + BigInt(Math.floor(i / PER_SLOT)),
        transaction,
        meta: template.meta,
        blockTime: new Date(1_700_000_000_000 + i * 40),
      }),
    );
  }
  return out;
}

async function fill(url, entries) {
  const store = await openStore(url);
  try {
    await store.init?.();
    const writer = store.openHistory(ingestorName, { codec: kinHistoryCodec });
    // Writes of one turn go to the store in batches.
    for (let i = 0; i < entries.length; i += 1000) {
      await Promise.all(entries.slice(i, i + 1000).map((entry) => writer.write(entry)));
    }
    await writer.close();
    const last = solanaBody(entries.at(-1)).slot;
    await store.committer.commit(ingestorName, null, solanaPointer(last));
  } finally {
    await store.close();
  }
}

/** A fixed, seeded list of pages: a cursor somewhere in the account's history, both directions. */
function pages(entries, count) {
  const keys = entries.map(orderingKey).sort(Buffer.compare);
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, (_, n) => ({
    order: n % 2 === 0 ? "asc" : "desc",
    // A full page either way: at least 100 entries on both sides of the cursor.
    cursor: keys[101 + Math.floor(random() * (keys.length - 203))],
  }));
}

/** `CLIENTS` loops over `plan` for `seconds` (after a warm-up), each request timed. */
async function measure(plan, call) {
  const run = async (seconds, latencies) => {
    const until = performance.now() + seconds * 1000;
    let next = 0;
    const client = async (c) => {
      while (performance.now() < until) {
        const page = plan[(next++ + c) % plan.length];
        const started = performance.now();
        const items = await call(c, page);
        latencies?.push(performance.now() - started);
        if (items !== 100) throw new Error(`a page had ${items} items, expected 100`);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    return (performance.now() - started) / 1000;
  };
  await run(WARMUP_SECONDS);
  const latencies = [];
  const seconds = await run(SECONDS, latencies);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99), requests: latencies.length };
}

/** `tidemark serve --history URL --port 0`, resolved once it logs its port. */
async function startServe(url) {
  const child = spawn(process.execPath, [bin, "serve", "--history", url, "--port", "0", "--log-level", "info"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Should this process die on an uncaught error, the server must not outlive it.
  const orphaned = () => child.kill("SIGKILL");
  process.once("exit", orphaned);
  const exited = new Promise((resolve) => child.once("exit", resolve)).finally(() => process.off("exit", orphaned));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const lines = createInterface({ input: child.stdout });
  const listening = new Promise((resolve) => {
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const { grpcPort } = JSON.parse(line);
      if (typeof grpcPort === "number") resolve(grpcPort);
    });
  });
  const port = await Promise.race([listening, exited.then((code) => ({ code }))]);
  if (typeof port !== "number") throw new Error(`tidemark serve exited ${port.code} before listening`);
  return { port, stop };
}

const GET_HISTORY = `/${Transaction.typeName}/GetHistory`;

/** A gRPC message frame: not compressed, 4-byte big-endian length, the message. */
function grpcFrame(message) {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * One gRPC unary call on an HTTP/2 session, as a minimal load generator makes
 * it (the request pre-encoded): resolves to the response message's bytes,
 * rejects on a status other than OK.
 */
function unaryCall(session, path, frame) {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    const chunks = [];
    let status;
    stream.on("response", (headers) => (status = headers["grpc-status"]));
    stream.on("trailers", (trailers) => (status = trailers["grpc-status"]));
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      if (status !== "0") reject(new Error(`GetHistory answered grpc-status ${status}`));
      else resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
    });
    stream.end(frame);
  });
}

/** How many `items` (field 2) a GetHistoryResponse holds, read from its top-level fields without decoding them. */
function countItems(message) {
  let items = 0;
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < message.length) {
    const tag = varint();
    if ((tag & 7) === 0) varint();
    else if ((tag & 7) === 2) {
      const length = varint();
      at += length;
    } else throw new Error(`unexpected wire type in the response: ${tag & 7}`);
    if (tag >>> 3 === 2) items++;
  }
  return items;
}

async function bench(name, url, entries, plan, { account, strkey, base58 }) {
  const filledAt = performance.now();
  await fill(url, entries);
  const fillSeconds = (performance.now() - filledAt) / 1000;

  const reader = await openStore(url, { readOnly: true });
  const history = reader.openHistory(ingestorName, { codec: kinHistoryCodec });
  const serving = await startServe(url);
  const sessions = Array.from({ length: CLIENTS }, () => connectHttp2(`http://127.0.0.1:${serving.port}`));
  const requests = new Map(
    plan.map((page) => [
      page,
      grpcFrame(
        toBinary(
          GetHistoryRequestSchema,
          create(GetHistoryRequestSchema, {
            accountId: { value: account },
            direction: page.order === "desc" ? GetHistoryRequest_Direction.DESC : GetHistoryRequest_Direction.ASC,
            cursor: { value: page.cursor },
          }),
        ),
      ),
    ]),
  );
  const kinds = {
    raw: async (_, page) => (await history.getAccountHistory(strkey, { ...page, limit: 100 })).length,
    // What a GetHistory page reads for a Kin4 account: agora's strkey and the base58 address, at once.
    bothKeys: async (_, page) => {
      const [a, b] = await Promise.all(
        [strkey, base58].map((key) => history.getAccountHistory(key, { ...page, limit: 100 })),
      );
      return Math.min(a.length, b.length);
    },
    served: (c, page) => unaryCall(sessions[c], GET_HISTORY, requests.get(page)).then(countItems),
  };
  const rounds = { raw: [], bothKeys: [], served: [] };
  try {
    // Rounds take turns, so that a slower or faster stretch of the shared machine weighs on every figure alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [kind, call] of Object.entries(kinds)) rounds[kind].push(await measure(plan, call));
    }
  } finally {
    for (const session of sessions) session.destroy();
    await serving.stop();
    await history.close();
    await reader.close();
  }
  const median = (list) => [...list].sort((a, b) => a.rate - b.rate)[Math.floor(list.length / 2)];
  return {
    name,
    fillSeconds,
    raw: median(rounds.raw),
    bothKeys: median(rounds.bothKeys),
    served: median(rounds.served),
  };
}

const ms = (value) => `${value.toFixed(1)} ms`;
const row = (label, m) =>
  `${label.padEnd(22)} ${m.rate.toFixed(0).padStart(7)} ${ms(m.p50).padStart(10)} ${ms(m.p99).padStart(10)}`;
function print({ name, raw, bothKeys, served, fillSeconds }) {
  console.log(`\n${name} (${ENTRIES} entries written in ${fillSeconds.toFixed(0)} s)`);
  console.log(`${"".padEnd(22)} ${"req/s".padStart(7)} ${"p50".padStart(10)} ${"p99".padStart(10)}`);
  console.log(row("serve GetHistory", served));
  console.log(row("raw query", raw));
  console.log(row("raw query, both keys", bothKeys));
  console.log(`serve_${name}_vs_raw: ${(served.rate / raw.rate).toFixed(2)} ratio (target >= ${TARGET})`);
  console.log(`serve_${name}_vs_raw_both_keys: ${(served.rate / bothKeys.rate).toFixed(2)} ratio`);
}

const stores = [
  { name: "sqlite", start: async () => ({ url: `sqlite:${join(dir, "bench.db")}`, close: async () => {} }) },
  {
    name: "postgres",
    start: async () => {
      const server = await startPostgres();
      return { url: server.url, close: () => server.close() };
    },
  },
  {
    name: "dynamodb",
    start: async () => {
      const server = await startDynamoDbLocal();
      return {
        url: `dynamodb://bench:bench@${new URL(server.endpoint).host}?region=us-east-1`,
        close: () => server.close(),
      };
    },
  },
  {
    name: "mongodb",
    start: async () => {
      const server = await startMongoJavaServer();
      return { url: `mongodb://${new URL(server.uri).host}/bench`, close: () => server.close() };
    },
  },
];

const only = process.env.SERVE_BENCH_STORES?.split(",");
try {
  const { entries: made, ...account } = await templates();
  const entries = history(made);
  const plan = pages(entries, 1000);
  console.log(
    `GetHistory, 100-item pages from a random cursor (asc and desc) of one account listed in all ${ENTRIES} entries; ` +
      `${CLIENTS} concurrent clients, ${SECONDS} s per measurement, the median of ${ROUNDS} rounds taking turns`,
  );
  for (const store of stores) {
    if (only && !only.includes(store.name)) continue;
    const server = await store.start();
    try {
      print(await bench(store.name, server.url, entries, plan, account));
    } finally {
      await server.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
