import { KinBlockFactory, type KinBlockFactoryOptions } from "./kin-block-factory.js";
import { SolanaChain } from "./solana-chain.js";
import { SolanaRpcServer } from "./solana-rpc-server.js";

export interface KinNetworkSimulatorOptions extends KinBlockFactoryOptions {
  /** Time between blocks, in ms (default 400, Solana's slot time). */
  readonly blockIntervalMs?: number;
  /** Transactions per block, drawn uniformly from this range (default 2 to 8). */
  readonly transactionsPerBlock?: { readonly min: number; readonly max: number };
  /** Chance that a slot is skipped (default 0.05). */
  readonly skipProbability?: number;
  /** The first slot (default 250 000 000). */
  readonly startSlot?: bigint;
  /** Slots the finalized slot trails the newest block (default 0). */
  readonly finalizationLag?: number;
  /** Delay added to every RPC request, in ms (default 0). */
  readonly latencyMs?: number;
  /** A fixed port for the RPC server (default: any free one). */
  readonly port?: number;
  /** Drives the traffic mix and skips; a seeded generator makes runs repeatable (default Math.random). */
  readonly random?: () => number;
}

/**
 * A Kin network in process: a Solana JSON-RPC server on loopback whose chain
 * grows by one block every `blockIntervalMs`, filled with realistic Kin
 * traffic (signed SPL Token transfers, TransferChecked, CPI, versioned and
 * failed transactions, USDC and SOL noise). For demos and tests.
 */
export class KinNetworkSimulator {
  readonly chain: SolanaChain;
  readonly server: SolanaRpcServer;
  readonly factory: KinBlockFactory;
  readonly #options: KinNetworkSimulatorOptions;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | null = null;
  #building: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(
    chain: SolanaChain,
    server: SolanaRpcServer,
    factory: KinBlockFactory,
    options: KinNetworkSimulatorOptions,
  ) {
    this.chain = chain;
    this.server = server;
    this.factory = factory;
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  static async start(options: KinNetworkSimulatorOptions = {}): Promise<KinNetworkSimulator> {
    const factory = await KinBlockFactory.create(options);
    const chain = new SolanaChain({ finalizationLag: options.finalizationLag ?? 0 });
    const server = await SolanaRpcServer.start({
      chain,
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    const simulator = new KinNetworkSimulator(chain, server, factory, options);
    await simulator.produceBlock(options.startSlot ?? 250_000_000n);
    simulator.#schedule();
    return simulator;
  }

  /** The RPC endpoint. */
  get url(): string {
    return this.server.url;
  }

  /** Appends one block now (at `slot`, or after the tip, sometimes skipping a slot). */
  async produceBlock(slot?: bigint): Promise<void> {
    const { min = 2, max = 8 } = this.#options.transactionsPerBlock ?? {};
    const count = min + Math.floor(this.#random() * (max - min + 1));
    const transactions = await this.factory.traffic(count, this.#random);
    if (this.#stopped) return;
    const tip = this.chain.tip;
    const skip = this.#random() < (this.#options.skipProbability ?? 0.05) ? 1n : 0n;
    this.chain.append(transactions, {
      slot: slot ?? (tip === null ? 1n : tip.slot + 1n + skip),
      blockTime: Math.floor(Date.now() / 1000),
    });
  }

  /** Stops producing blocks and closes the RPC server. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#building.catch(() => {});
    await this.server.close();
  }

  #schedule(delayMs = this.#options.blockIntervalMs ?? 400): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      const startedAt = performance.now();
      // Keep the cadence: the time spent signing a block comes out of the wait for the next one.
      this.#building = this.produceBlock().finally(() => {
        const interval = this.#options.blockIntervalMs ?? 400;
        this.#schedule(Math.max(0, interval - (performance.now() - startedAt)));
      });
    }, delayMs);
  }
}

/** A small seeded random generator (mulberry32), for repeatable simulations. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
