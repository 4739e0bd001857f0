import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent } from "node:http";
import { gzipSync } from "node:zlib";
import { toBinary } from "@bufbuild/protobuf";
import type { Address } from "@solana/kit";
import { ConfigurationError, type Pointer, pointersEqual, sleep } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EntrySchema } from "../src/gen/model_pb.js";
import {
  type Entry,
  KIN_MINT_ADDRESS,
  KinSolanaIngestor,
  type KinSolanaIngestorOptions,
  type RetryInfo,
  solanaBody,
  solanaPointer,
} from "../src/index.js";
import { LoopbackServer, readBody } from "../src/simulator/http.js";
import { MainnetShapedChain, SolanaRpcServer } from "../src/simulator/index.js";
import { entriesOfBody } from "../src/solana/block-body.js";
import { BlockSession, type BlockSessionOptions } from "../src/solana/block-session.js";
import { parseBlock } from "../src/solana/block-shape.js";
import { httpPost } from "../src/solana/http-post.js";
import { kinEntriesOfBlock } from "../src/solana/kin-entries.js";
import { WorkerCrashedError } from "../src/solana/worker-pool.js";
import { getBlockText, INGESTOR_GET_BLOCK_CONFIG } from "./support/get-block.js";
import { collect } from "./support/ingest.js";
import { settledWorkerThreads, workerThreads } from "./support/threads.js";

const solana = inject("solana");
const sharedSlots = solana.expected.map((b) => BigInt(b.slot));
const encode = (entries: readonly Entry[]) => entries.map((e) => Buffer.from(toBinary(EntrySchema, e)).toString("hex"));
/** The entries of one block as the ingestor read them before any shortcut: every transaction parsed and built. */
function fullParse(slot: bigint, text: string, mint: Address): string[] {
  const block = (JSON.parse(text) as { result: unknown }).result;
  return encode(kinEntriesOfBlock(slot, parseBlock(slot, block), { mint, extensions: true }));
}

/** Entries in slot order, those of one block in write order (a stable sort). */
function bySlot(entries: readonly Entry[]): string[] {
  const sorted = [...entries].sort((a, b) => {
    const x = solanaBody(a).slot;
    const y = solanaBody(b).slot;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return encode(sorted);
}

async function ingestUntil(options: KinSolanaIngestorOptions, last: bigint) {
  const tip: Pointer = solanaPointer(last);
  return collect(new KinSolanaIngestor(options), null, (result) => pointersEqual(result.block, tip));
}

describe("getBlock read in worker threads", () => {
  let chain: MainnetShapedChain;
  let server: SolanaRpcServer<MainnetShapedChain>;
  beforeAll(async () => {
    chain = await MainnetShapedChain.create({
      seed: "workers",
      blocks: 6,
      // Large enough that even gzipped a block goes to a worker thread (small ones are read in-process).
      transactionsPerBlock: 1000,
      kinTransfersPerBlock: 3,
    });
    server = await SolanaRpcServer.start({ chain, gzip: true });
  });
  afterAll(async () => {
    await server.close();
  });

  it("keeps exactly the entries a full parse keeps, on the recorded mainnet and SDK-built blocks", async () => {
    const expected: string[] = [];
    for (const slot of sharedSlots) {
      const text = await getBlockText(solana.url, slot);
      const reference = fullParse(slot, text, KIN_MINT_ADDRESS);
      expect(
        encode(
          entriesOfBody(
            slot,
            { bytes: Buffer.from(text), encoding: undefined },
            { mint: KIN_MINT_ADDRESS, extensions: true },
          ),
        ),
        `slot ${slot}`,
      ).toEqual(reference);
      expect(
        encode(
          entriesOfBody(
            slot,
            { bytes: gzipSync(text), encoding: "gzip" },
            { mint: KIN_MINT_ADDRESS, extensions: true },
          ),
        ),
        `slot ${slot} gzipped`,
      ).toEqual(reference);
      expected.push(...reference);
    }
    expect(expected.length).toBe(solana.expected.reduce((n, b) => n + b.kin.length, 0));
    const options = { rpcUrl: solana.url, startSlot: sharedSlots[0] as bigint, concurrency: 4 };
    const threads = await ingestUntil({ ...options, workers: 2 }, sharedSlots.at(-1) as bigint);
    const inProcess = await ingestUntil({ ...options, workers: 0 }, sharedSlots.at(-1) as bigint);
    expect(threads.results.every((r) => r.error === undefined)).toBe(true);
    expect(bySlot(threads.entries)).toEqual(expected);
    expect(bySlot(inProcess.entries)).toEqual(expected);
  });

  it("keeps exactly the entries a full parse keeps on gzipped mainnet-shaped blocks, and ends its threads", async () => {
    const slots = chain.blocksFrom(0n, 100);
    const expected = (
      await Promise.all(slots.map(async (slot) => fullParse(slot, await getBlockText(server.url, slot), chain.mint)))
    ).flat();
    expect(expected).toHaveLength(6 * 3);
    const before = await settledWorkerThreads();
    const options = { rpcUrl: server.url, startSlot: chain.firstSlot, mint: chain.mint, concurrency: 4 };
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, workerThreads());
    }, 5);
    const threads = await ingestUntil({ ...options, workers: 2 }, chain.tipSlot).finally(() => clearInterval(sampler));
    expect(peak, "blocks were read in worker threads").toBeGreaterThan(before);
    expect(threads.results.map((r) => r.error)).toEqual(slots.map(() => undefined));
    expect(bySlot(threads.entries)).toEqual(expected);
    // The session's end terminates its threads (asynchronously: a thread takes a moment to stop).
    expect(await settledWorkerThreads()).toBe(before);
    const inProcess = await ingestUntil({ ...options, workers: 0 }, chain.tipSlot);
    expect(bySlot(inProcess.entries)).toEqual(expected);
  });

  it("close() resolves once the ended sessions' threads are gone", async () => {
    const before = await settledWorkerThreads();
    const ingestor = new KinSolanaIngestor({
      rpcUrl: server.url,
      startSlot: chain.firstSlot,
      mint: chain.mint,
      concurrency: 4,
      workers: 2,
    });
    const tip = solanaPointer(chain.tipSlot);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, workerThreads());
    }, 5);
    await collect(ingestor, null, (r) => pointersEqual(r.block, tip)).finally(() => clearInterval(sampler));
    expect(peak, "blocks were read in worker threads").toBeGreaterThan(before);
    await ingestor.close();
    // At once, without waiting for threads to settle.
    expect(workerThreads()).toBe(before);
  });

  /** A session over the simulated node, fetching one block at a time. */
  const openSession = (signal: AbortSignal, options: Partial<BlockSessionOptions> = {}) =>
    new BlockSession(signal, {
      url: new URL(server.url),
      workers: 1,
      maxBytesInFlight: 32 * 1024 * 1024,
      concurrency: 1,
      reading: { mint: chain.mint, extensions: true },
      ...options,
    });
  /** One getBlock body, fetched as the ingestor fetches it, into the session's buffers. */
  const fetchBody = (session: BlockSession, slot: bigint, signal: AbortSignal) =>
    httpPost({
      url: new URL(server.url),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "getBlock",
        params: [Number(slot), INGESTOR_GET_BLOCK_CONFIG],
      }),
      headers: {},
      agent: session.agent,
      signal,
      what: "test",
      buffers: session.buffers,
    });

  it("reads bodies into buffers it reuses, handed back by the worker threads, with the same entries", async () => {
    for (const workers of [1, 0]) {
      const stop = new AbortController();
      const session = openSession(stop.signal, { workers });
      try {
        const slots = chain.blocksFrom(0n, 3);
        const allocated: number[] = [];
        for (const slot of slots) {
          const body = await fetchBody(session, slot, stop.signal);
          expect(session.buffers.owns(body.bytes.buffer), `workers ${workers}: read into the session's buffer`).toBe(
            true,
          );
          const entries = await session.read(slot, body, stop.signal);
          expect(encode(entries)).toEqual(fullParse(slot, await getBlockText(server.url, slot), chain.mint));
          // Handed back (by the worker, as a new object over the same memory) for the next body.
          expect(session.buffers.freeBytes).toBeGreaterThanOrEqual(body.bytes.byteLength);
          allocated.push(session.buffers.allocatedBytes);
        }
        // The first body's buffers serve the next ones: nothing more is allocated.
        expect(allocated[0]).toBeGreaterThan(0);
        expect(allocated.slice(1)).toEqual([allocated[0], allocated[0]]);
        // A body whose memory is not the session's is read, but never taken in for reuse.
        const text = await getBlockText(server.url, slots[0] as bigint);
        const before = session.buffers.freeBytes;
        const foreign = Buffer.from(text);
        await session.read(slots[0] as bigint, { bytes: foreign, encoding: undefined }, stop.signal);
        expect(session.buffers.freeBytes).toBe(before);
        expect(foreign.toString()).toBe(text);
      } finally {
        stop.abort();
        await session.closed;
      }
    }
  });

  it("reads a block whose thread died (as one out of memory does) again on the calling thread", async () => {
    const stop = new AbortController();
    const session = openSession(stop.signal, {
      workerScript: new URL("./support/dying-block-worker.mjs", import.meta.url),
    });
    const slot = chain.firstSlot;
    try {
      await expect(session.read(slot, await fetchBody(session, slot, stop.signal), stop.signal)).rejects.toBeInstanceOf(
        WorkerCrashedError,
      );
      // Fetched again, as getBlock's retry does, it is read here.
      const entries = await session.read(slot, await fetchBody(session, slot, stop.signal), stop.signal);
      expect(encode(entries)).toEqual(fullParse(slot, await getBlockText(server.url, slot), chain.mint));
      expect(entries.length).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await session.closed;
    }
  });

  it("asks for gzip and hands the body on compressed, in a buffer of its own", async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const slot = chain.firstSlot;
      const payload = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "getBlock",
        params: [Number(slot), INGESTOR_GET_BLOCK_CONFIG],
      });
      let counted = 0;
      const body = await httpPost({
        url: new URL(server.url),
        body: payload,
        headers: {},
        agent,
        signal: new AbortController().signal,
        what: "test",
        onBytes: (n) => {
          counted += n;
        },
      });
      const text = await getBlockText(server.url, slot);
      expect(body.encoding).toBe("gzip");
      expect(body.bytes.byteLength).toBeLessThan(Buffer.byteLength(text) / 2);
      expect(counted).toBe(body.bytes.byteLength);
      expect(body.bytes.byteOffset).toBe(0);
      expect(body.bytes.buffer.byteLength).toBe(body.bytes.byteLength);
    } finally {
      agent.destroy();
    }
  });
});

/**
 * A real HTTP front of a simulated node, for what the simulator does not do itself: it answers
 * getBlock through `getBlock`, and proxies everything else (and what `getBlock` passes on) as is.
 */
class Front {
  /** The getBlock requests it saw: `<slot> <path>`. */
  readonly getBlocks: string[] = [];
  #http: LoopbackServer;
  constructor(
    readonly target: string,
    readonly getBlock: (
      request: IncomingMessage,
      response: ServerResponse,
      body: string,
      pass: () => Promise<Response>,
    ) => Promise<void>,
  ) {
    this.#http = new LoopbackServer((request, response) => {
      void this.#handle(request, response).catch(() => response.destroy());
    });
  }
  get url(): string {
    return this.#http.url;
  }
  async start(): Promise<this> {
    await this.#http.listen();
    return this;
  }
  close(): Promise<void> {
    return this.#http.close();
  }
  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const pass = () => fetch(this.target, { method: "POST", headers: { "content-type": "application/json" }, body });
    const call = JSON.parse(body) as { method?: string; params?: unknown[] };
    if (call.method === "getBlock") {
      this.getBlocks.push(`${call.params?.[0]} ${request.url}`);
      return this.getBlock(request, response, body, pass);
    }
    const answer = await pass();
    response.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
  }
}

describe("getBlock over Node's HTTP client", () => {
  let chain: MainnetShapedChain;
  let server: SolanaRpcServer<MainnetShapedChain>;
  let front: Front | undefined;
  beforeAll(async () => {
    chain = await MainnetShapedChain.create({
      seed: "http",
      blocks: 2,
      transactionsPerBlock: 80,
      kinTransfersPerBlock: 2,
    });
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await front?.close();
    await server.close();
  });
  const quick = { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 };
  const first = (rpcUrl: string, extra: Partial<KinSolanaIngestorOptions> = {}) =>
    collect(
      new KinSolanaIngestor({
        rpcUrl,
        startSlot: chain.firstSlot,
        mint: chain.mint,
        retry: quick,
        requestTimeoutMs: 2000,
        ...extra,
      }),
      null,
      (_r, results) => results.length >= 1,
    );
  const withFront = async (handler: ConstructorParameters<typeof Front>[1]) => {
    await front?.close();
    front = await new Front(server.url, handler).start();
    return front;
  };

  it("follows a 307 to the same origin, keeping the POST and its body", async () => {
    const f = await withFront(async (request, response, _body, pass) => {
      if (request.url !== "/moved") {
        response.writeHead(307, { location: "/moved" }).end();
        return;
      }
      const answer = await pass();
      response.writeHead(200, { "content-type": "application/json" }).end(await answer.text());
    });
    const { results, entries } = await first(f.url);
    expect(results[0]?.error).toBeUndefined();
    // Both blocks may have been fetched by then: the first block's are what is checked.
    const slot = chain.firstSlot;
    expect(entries.filter((e) => solanaBody(e).slot === slot)).toHaveLength(2);
    expect(f.getBlocks.filter((r) => r.startsWith(`${slot} `))).toEqual([`${slot} /`, `${slot} /moved`]);
  });

  it.each([
    {
      status: 301,
      location: (f: Front) => `${f.url}/moved`,
      why: /HTTP 301 \(a redirect that would not keep the POST\)/,
    },
    { status: 307, location: (f: Front) => `${f.target}/`, why: /HTTP 307 to another origin/ },
  ])(
    "fails a $status it will not follow with a ConfigurationError, at once and without the URL",
    async ({ status, location, why }) => {
      const f = await withFront(async (_request, response) => {
        response.writeHead(status, { location: location(front as Front) }).end();
      });
      const retries: RetryInfo[] = [];
      const { results } = await first(`${f.url}/?api-key=secret-key`, { onRetry: (r) => retries.push(r) });
      const error = results[0]?.error;
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).not.toMatch(/secret-key|127\.0\.0\.1/);
      expect(retries).toEqual([]);
      expect(f.getBlocks.filter((r) => r.startsWith(`${chain.firstSlot} `))).toHaveLength(1);
    },
  );

  it("fetches again a body cut off mid-way, as a network failure", async () => {
    let cut = false;
    const f = await withFront(async (_request, response, body, pass) => {
      const text = await (await pass()).text();
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(text)),
      });
      if (!cut && body.includes(`[${chain.firstSlot},`)) {
        cut = true;
        response.write(text.slice(0, text.length >> 1));
        await sleep(20);
        response.socket?.destroy();
        return;
      }
      response.end(text);
    });
    const retries: RetryInfo[] = [];
    const { results, entries } = await first(f.url, { onRetry: (r) => retries.push(r) });
    expect(results[0]?.error).toBeUndefined();
    const slot = chain.firstSlot;
    expect(entries.filter((e) => solanaBody(e).slot === slot)).toHaveLength(2);
    expect(retries.map((r) => [r.operation, r.kind])).toEqual([[`getBlock(${slot})`, "network"]]);
    expect(f.getBlocks.filter((r) => r.startsWith(`${slot} `))).toHaveLength(2);
  });

  it("stops a request in flight when the session aborts, leaving no socket or timer", async () => {
    const baseline = process.getActiveResourcesInfo().filter((k) => k === "Timeout" || k.startsWith("TCP")).length;
    server.faults.add({ method: "getBlock", fault: { kind: "hang" } });
    const controller = new AbortController();
    const ingestor = new KinSolanaIngestor({
      rpcUrl: server.url,
      startSlot: chain.firstSlot,
      mint: chain.mint,
      workers: 2,
    });
    const queue = await ingestor.ingest(controller.signal, { write: async () => {} }, null);
    const iterator = queue[Symbol.asyncIterator]();
    const next = iterator.next();
    for (let i = 0; i < 100 && server.requests("getBlock") === 0; i++) await sleep(10);
    expect(server.requests("getBlock")).toBeGreaterThan(0);
    const started = performance.now();
    controller.abort(new Error("stop"));
    await next
      .then(
        (step) => (step.done ? undefined : step.value),
        () => undefined,
      )
      .catch(() => undefined);
    await iterator.return?.();
    // Well inside the 30 s request timeout the hang would otherwise run into, with room for a loaded machine.
    expect(performance.now() - started).toBeLessThan(10_000);
    server.faults.clear();
    let left = -1;
    for (let i = 0; i < 40; i++) {
      left = process.getActiveResourcesInfo().filter((k) => k === "Timeout" || k.startsWith("TCP")).length - baseline;
      if (left <= 0) break;
      await sleep(50);
    }
    expect(left).toBeLessThanOrEqual(0);
  });
});
