import { type Logger, silentLogger } from "@tidemark/core";
import { KinBlockFactory, type SimulatedTransaction, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";

export interface DemoNetworkOptions {
  /** A new block this often, in ms (default 400, Solana's slot time; 0 = none, serve the backlog only). */
  readonly blockIntervalMs?: number;
  /** Transactions per block, at most (default 8). */
  readonly maxTransactionsPerBlock?: number;
  /** A fixed port for the RPC server (default: any free one). */
  readonly port?: number;
  /** Delay added to every RPC answer, in ms, as a remote node's round trip (default 0). */
  readonly latencyMs?: number;
  /** Blocks generated before serving, for backfill benchmarks (default 1). */
  readonly backlog?: number;
  /** Seeds the simulated wallets (default: unique per start). */
  readonly seed?: string;
  /** Told about blocks whose traffic could not be built (default: nothing is logged). */
  readonly logger?: Logger;
  /** Builds each new block's transactions, at most `count` (default: signed Kin traffic from the network's wallets). */
  readonly traffic?: (count: number) => Promise<readonly SimulatedTransaction[]>;
}

/**
 * A local Kin4 network for `tidemark run --demo`: a Solana JSON-RPC server on
 * loopback whose chain grows by one block every 400 ms, filled with real
 * signed transactions carrying real SPL Token instructions (Kin transfers,
 * some failing, and some non-Kin traffic that must be left out).
 */
export class DemoNetwork {
  readonly #server: SolanaRpcServer;
  readonly #timer: NodeJS.Timeout | null;
  readonly #chain: SolanaChain;
  readonly #firstSlot: bigint | null;
  readonly #traffic: (count: number) => Promise<readonly SimulatedTransaction[]>;
  readonly #max: number;
  readonly #log: Logger;
  /** The block being built, if any: never more than one, however slow signing gets. */
  #producing: Promise<void> | null = null;
  #skipped = 0;

  private constructor(
    server: SolanaRpcServer,
    factory: KinBlockFactory,
    chain: SolanaChain,
    options: DemoNetworkOptions,
  ) {
    this.#server = server;
    this.#chain = chain;
    this.#firstSlot = chain.tip === null ? null : (chain.blocksFrom(0n, 1)[0] ?? null);
    this.#traffic = options.traffic ?? ((count) => factory.traffic(count));
    this.#max = options.maxTransactionsPerBlock ?? 8;
    this.#log = options.logger ?? silentLogger;
    const interval = options.blockIntervalMs ?? 400;
    this.#timer = interval <= 0 ? null : setInterval(() => this.#tick(), interval);
  }

  #tick(): void {
    // Signing may take longer than a block on a busy machine. Queueing every tick behind it would
    // grow without bound; skipping the slot instead is what a slow Solana leader does too.
    if (this.#producing !== null) {
      this.#skipped++;
      return;
    }
    this.#producing = this.#produce()
      .catch((error: unknown) => {
        this.#log.warn({ err: error }, "demo: a block's transactions could not be built; skipped the block");
      })
      .finally(() => {
        this.#producing = null;
      });
  }

  async #produce(): Promise<void> {
    const transactions = await this.#traffic(Math.floor(Math.random() * (this.#max + 1)));
    this.#chain.append(transactions, DemoNetwork.#next(this.#chain));
  }

  /** Blocks being built right now: 0 or 1. */
  get pendingBlocks(): number {
    return this.#producing === null ? 0 : 1;
  }

  /** Block times skipped because the previous block was still being built. */
  get skippedBlocks(): number {
    return this.#skipped;
  }

  /** The oldest slot served. */
  get firstSlot(): bigint | null {
    return this.#firstSlot;
  }

  /** The newest slot, or null before the first block. */
  get tipSlot(): bigint | null {
    return this.#chain.tip?.slot ?? null;
  }

  /** Blocks produced so far. */
  get blocks(): number {
    return this.#chain.size;
  }

  static async start(options: DemoNetworkOptions = {}): Promise<DemoNetwork> {
    const chain = new SolanaChain();
    const factory = await KinBlockFactory.create({ seed: options.seed ?? `demo-${process.pid}-${Date.now()}` });
    const max = options.maxTransactionsPerBlock ?? 8;
    const backlog = options.backlog ?? 1;
    // A backlog is laid out in consecutive slots ending now, as if the node had been running.
    const first = BigInt(Math.floor(Date.now() / 400)) - BigInt(backlog) + 1n;
    for (let i = 0; i < backlog; i++) {
      chain.append(await factory.traffic(Math.floor(Math.random() * (max + 1))), {
        slot: first + BigInt(i),
        blockTime: Math.floor(Date.now() / 1000),
      });
    }
    const server = await SolanaRpcServer.start({
      chain,
      ...(options.port ? { port: options.port } : {}),
      ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
    });
    return new DemoNetwork(server, factory, chain, options);
  }

  // Slots follow the wall clock (one per 400 ms), so a restarted demo carries on after
  // the slots it already served instead of starting a different chain at slot 0.
  static #next(chain: SolanaChain): { slot: bigint; blockTime: number } {
    const now = Date.now();
    const bySlotTime = BigInt(Math.floor(now / 400));
    const tip = chain.tip?.slot ?? 0n;
    return { slot: bySlotTime > tip ? bySlotTime : tip + 1n, blockTime: Math.floor(now / 1000) };
  }

  /** The RPC endpoint to ingest from. */
  get url(): string {
    return this.#server.url;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#producing;
    await this.#server.close();
  }
}
