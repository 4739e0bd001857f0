import { MainnetShapedChain, SolanaRpcServer } from "@tidemark/kin/simulator";

export interface MainnetNetworkOptions {
  /** A new block this often, in ms (default 400, Solana's slot time; 0 = none, serve the backlog only). */
  readonly blockIntervalMs?: number;
  /** Blocks served from the start (default 1). */
  readonly backlog?: number;
  /** A fixed port for the RPC server (default: any free one). */
  readonly port?: number;
  /** Delay added to every RPC answer, in ms, as a remote node's round trip (default 0). */
  readonly latencyMs?: number;
  /** Seeds keys, the transaction mix and ids; the same seed serves the same chain (default "tidemark"). */
  readonly seed?: string;
  /** Transactions per block (default 1 200). */
  readonly transactionsPerBlock?: number;
  /** Kin transfers per block (default 4). */
  readonly kinTransfersPerBlock?: number;
  /** Repeat the traffic around the Kin transfers every this many blocks (default: never; see MainnetShapedChain). */
  readonly repeatEvery?: number;
}

/**
 * `tidemark simulate --shape mainnet`: a Solana JSON-RPC server on loopback
 * serving mainnet-shaped blocks (votes, SOL and USDC transfers, swaps, a few
 * Kin transfers), built on demand from their slot, so a backlog of any length
 * costs no memory. A new block is announced every `blockIntervalMs`.
 */
export class MainnetNetwork {
  readonly #chain: MainnetShapedChain;
  readonly #server: SolanaRpcServer<MainnetShapedChain>;
  readonly #timer: NodeJS.Timeout | null;

  private constructor(chain: MainnetShapedChain, server: SolanaRpcServer<MainnetShapedChain>, intervalMs: number) {
    this.#chain = chain;
    this.#server = server;
    this.#timer = intervalMs <= 0 ? null : setInterval(() => chain.extend(1), intervalMs);
  }

  static async start(options: MainnetNetworkOptions = {}): Promise<MainnetNetwork> {
    const chain = await MainnetShapedChain.create({
      seed: options.seed ?? "tidemark",
      blocks: options.backlog ?? 1,
      ...(options.transactionsPerBlock === undefined ? {} : { transactionsPerBlock: options.transactionsPerBlock }),
      ...(options.kinTransfersPerBlock === undefined ? {} : { kinTransfersPerBlock: options.kinTransfersPerBlock }),
      ...(options.repeatEvery === undefined ? {} : { repeatEvery: options.repeatEvery }),
    });
    const server = await SolanaRpcServer.start({
      chain,
      ...(options.port ? { port: options.port } : {}),
      ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
    });
    return new MainnetNetwork(chain, server, options.blockIntervalMs ?? 400);
  }

  /** The RPC endpoint to ingest from. */
  get url(): string {
    return this.#server.url;
  }

  /** Blocks served so far. */
  get blocks(): number {
    return this.#chain.size;
  }

  get firstSlot(): bigint {
    return this.#chain.firstSlot;
  }

  get tipSlot(): bigint {
    return this.#chain.tipSlot;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#server.close();
  }
}
