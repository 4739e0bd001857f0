import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { applyTransportFault, type Fault, FaultInjector } from "./faults.js";
import { keepRecent, LoopbackServer, pause, readBody } from "./http.js";
import { JsonText } from "./json-text.js";
import type { SimulatedBlock, SolanaChain } from "./solana-chain.js";
import type { SolanaLedger } from "./solana-ledger.js";
import { jsonFromWireBytes } from "./solana-wire.js";
import { transactionJson } from "./transaction-json.js";

export interface SolanaRpcServerOptions<C extends SolanaLedger = SolanaChain> {
  /** What to serve: a {@link SolanaChain}, a {@link MainnetShapedChain} or any other {@link SolanaLedger}. */
  readonly chain: C;
  /** Delay added to every request, in ms (default 0). */
  readonly latencyMs?: number;
  /** A fixed port (default: any free one). */
  readonly port?: number;
  /** gzip answers to clients that accept it, as RPC providers do (default false). */
  readonly gzip?: boolean;
}

type JsonRpcRequest = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };

/** A JSON-RPC error with the codes and messages a Solana node uses. */
class RpcError {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

/**
 * A Solana JSON-RPC server on loopback over a {@link SolanaChain}: the methods
 * an ingestor needs (getBlocksWithLimit, getBlock in base64 or json encoding,
 * getSlot, getBlockHeight, getBlockTime, getLatestBlockhash, getHealth,
 * getVersion), the real error codes for skipped and not-yet-available slots,
 * and hooks to inject latency and faults. Counts requests per method.
 */
export class SolanaRpcServer<C extends SolanaLedger = SolanaChain> {
  readonly chain: C;
  readonly faults = new FaultInjector();
  /** Delay added to every request, in ms. */
  latencyMs: number;
  readonly #gzip: boolean;
  readonly #http: LoopbackServer;
  readonly #requests = new Map<string, number>();
  readonly #arrivals: { method: string; target: bigint | undefined; at: number }[] = [];
  readonly #closing = new AbortController();

  private constructor(options: SolanaRpcServerOptions<C>) {
    this.chain = options.chain;
    this.latencyMs = options.latencyMs ?? 0;
    this.#gzip = options.gzip ?? false;
    this.#http = new LoopbackServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      });
    });
  }

  static async start<C extends SolanaLedger = SolanaChain>(
    options: SolanaRpcServerOptions<C>,
  ): Promise<SolanaRpcServer<C>> {
    const server = new SolanaRpcServer(options);
    await server.#http.listen(options.port ?? 0);
    return server;
  }

  get url(): string {
    return this.#http.url;
  }

  /** Requests received per method so far. */
  requests(method?: string): number {
    if (method !== undefined) return this.#requests.get(method) ?? 0;
    let total = 0;
    for (const count of this.#requests.values()) total += count;
    return total;
  }

  /**
   * When the requests of `method` (about `target`, if given) arrived, in
   * `performance.now()` milliseconds, oldest first: the spacing of retries.
   */
  arrivals(method: string, target?: bigint): number[] {
    return this.#arrivals
      .filter((a) => a.method === method && (target === undefined || a.target === target))
      .map((a) => a.at);
  }

  resetCounters(): void {
    this.#requests.clear();
    this.#arrivals.length = 0;
  }

  /** Drops every open connection, as a network blip would. */
  dropConnections(): void {
    this.#http.dropConnections();
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.#http.close();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = performance.now();
    if (request.method !== "POST") {
      response.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const text = await readBody(request);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      this.#send(response, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
      return;
    }
    const calls = Array.isArray(payload) ? (payload as JsonRpcRequest[]) : [payload as JsonRpcRequest];
    const first = calls[0];
    const method = typeof first?.method === "string" ? first.method : "";
    for (const call of calls) {
      const name = typeof call?.method === "string" ? call.method : "";
      this.#requests.set(name, (this.#requests.get(name) ?? 0) + 1);
      this.#arrivals.push({ method: name, target: targetOf(call), at });
      keepRecent(this.#arrivals);
    }
    await pause(this.latencyMs, this.#closing.signal);
    const fault = this.faults.take(method, targetOf(first));
    if (fault && (await this.#applyTransportFault(fault, response))) return;
    const answers = calls.map((call) => this.#answer(call, fault));
    const gzip = this.#gzip && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    this.#send(response, Array.isArray(payload) ? answers : answers[0], gzip);
  }

  /** Applies a fault that replaces the whole HTTP exchange; returns false for result-level faults. */
  #applyTransportFault(fault: Fault, response: ServerResponse): Promise<boolean> {
    return applyTransportFault(fault, response, {
      errorContentType: "text/plain",
      errorBody: () => "",
      malformedContentType: "application/json",
      malformedBody: '{"jsonrpc":"2.0","result":{"blockhe',
      closing: this.#closing.signal,
    });
  }

  #answer(call: JsonRpcRequest, fault: Fault | null): unknown {
    const id = call?.id ?? null;
    if (fault?.kind === "rpcError") return { jsonrpc: "2.0", error: { code: fault.code, message: fault.message }, id };
    try {
      const method = typeof call?.method === "string" ? call.method : "";
      const params = Array.isArray(call?.params) ? (call.params as unknown[]) : [];
      let result = this.#dispatch(method, params);
      if (fault?.kind === "mutate") result = fault.mutate(JsonText.materialize(result));
      return { jsonrpc: "2.0", result, id };
    } catch (error) {
      if (error instanceof RpcError) return { jsonrpc: "2.0", error: { code: error.code, message: error.message }, id };
      throw error;
    }
  }

  #dispatch(method: string, params: unknown[]): unknown {
    const config = (index: number) => (params[index] ?? {}) as Record<string, unknown>;
    switch (method) {
      case "getBlocksWithLimit": {
        const start = slotParam(params[0]);
        const limit = Number(params[1]);
        if (!Number.isInteger(limit) || limit < 0 || limit > 500_000)
          throw new RpcError(-32602, "Invalid params: limit");
        return this.chain.blocksFrom(start, limit).map(Number);
      }
      case "getBlock":
        return this.#getBlock(slotParam(params[0]), config(1));
      case "getSlot":
        return Number(this.#slotAt(config(0).commitment));
      case "getBlockHeight": {
        const block = this.#newestBlockAt(config(0).commitment);
        return block?.blockHeight == null ? 0 : Number(block.blockHeight);
      }
      case "getBlockTime": {
        const slot = slotParam(params[0]);
        const block = this.chain.block(slot);
        if (block === undefined || slot > this.chain.finalizedSlot)
          throw new RpcError(-32004, `Block not available for slot ${slot}`);
        return block.blockTime;
      }
      case "getLatestBlockhash": {
        const block = this.#newestBlockAt(config(0).commitment);
        const slot = block?.slot ?? 0n;
        return {
          context: { apiVersion: "2.2.0", slot: Number(slot) },
          value: {
            blockhash: block?.blockhash ?? "11111111111111111111111111111111",
            lastValidBlockHeight: Number((block?.blockHeight ?? 0n) + 150n),
          },
        };
      }
      case "getHealth":
        return "ok";
      case "getVersion":
        return { "feature-set": 3_294_202_862, "solana-core": "2.2.0" };
      default:
        throw new RpcError(-32601, "Method not found");
    }
  }

  #getBlock(slot: bigint, config: Record<string, unknown>): unknown {
    if (this.chain.tipSlot === null || slot > this.#slotAt(config.commitment))
      throw new RpcError(-32004, `Block not available for slot ${slot}`);
    const block = this.chain.isSkipped(slot) ? undefined : this.chain.block(slot);
    if (block === undefined) {
      throw new RpcError(-32007, `Slot ${slot} was skipped, or missing due to ledger jump to recent snapshot`);
    }
    const encoding = (config.encoding as string | undefined) ?? "json";
    if (encoding !== "base64" && encoding !== "json")
      throw new RpcError(-32602, `Invalid params: unsupported encoding ${encoding}`);
    const details = (config.transactionDetails as string | undefined) ?? "full";
    const maxVersion = config.maxSupportedTransactionVersion;
    const out: Record<string, unknown> = {
      blockHeight: block.blockHeight === null ? null : Number(block.blockHeight),
      blockTime: block.blockTime,
      blockhash: block.blockhash,
      parentSlot: Number(block.parentSlot),
      previousBlockhash: block.previousBlockhash,
    };
    if (config.rewards !== false) out.rewards = [];
    if (details === "none") return out;
    // Only a request without maxSupportedTransactionVersion needs the transactions' versions now:
    // reading `transactions` builds a mainnet-shaped block's objects.
    for (const tx of maxVersion === undefined ? block.transactions : []) {
      if (tx.version === 0) {
        throw new RpcError(
          -32015,
          'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
        );
      }
    }
    if (details === "signatures") {
      out.signatures = block.transactions.map((tx) => jsonFromWireBytes(tx.bytes).signatures[0]);
      return out;
    }
    if (encoding === "base64") {
      // Written as text: a mainnet-shaped block has a thousand transactions, and building their objects
      // only for JSON.stringify to walk them cost more than everything else the simulator does.
      const withVersion = maxVersion !== undefined;
      const chunks = this.chain.transactionsJson?.(slot, withVersion) ?? [
        Buffer.from(`[${block.transactions.map((tx) => transactionJson(tx, withVersion)).join(",")}]`),
      ];
      out.transactions = new JsonText(chunks);
      return out;
    }
    out.transactions = block.transactions.map((tx) => ({
      meta: tx.meta,
      transaction: jsonFromWireBytes(tx.bytes),
      ...(maxVersion === undefined ? {} : { version: tx.version }),
    }));
    return out;
  }

  #slotAt(commitment: unknown): bigint {
    if (commitment === "processed" || commitment === "confirmed") return this.chain.tipSlot ?? 0n;
    return this.chain.finalizedSlot;
  }

  #newestBlockAt(commitment: unknown): SimulatedBlock | undefined {
    const limit = this.#slotAt(commitment);
    // Walk back over skipped slots to the newest block at or below the commitment's slot.
    for (let slot = limit; slot >= 0n && limit - slot < 100_000n; slot--) {
      const block = this.chain.block(slot);
      if (block) return block;
    }
    return undefined;
  }

  #send(response: ServerResponse, body: unknown, gzip = false): void {
    const chunks = JsonText.serialize(body);
    if (gzip) {
      response
        .writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" })
        .end(gzipSync(Buffer.concat(chunks)));
      return;
    }
    // In chunks, as they are: a mainnet-shaped block's megabytes are never copied into one buffer.
    const length = chunks.reduce((total, chunk) => total + chunk.length, 0);
    response.writeHead(200, { "content-type": "application/json", "content-length": length });
    // Corked, so the chunks leave in one writev; end() uncorks.
    response.cork();
    for (const chunk of chunks) response.write(chunk);
    response.end();
  }
}

function slotParam(value: unknown): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new RpcError(-32602, "Invalid params: invalid type: expected u64");
}

function targetOf(call: JsonRpcRequest | undefined): bigint | undefined {
  const first = Array.isArray(call?.params) ? (call.params as unknown[])[0] : undefined;
  return typeof first === "number" && Number.isSafeInteger(first) ? BigInt(first) : undefined;
}
