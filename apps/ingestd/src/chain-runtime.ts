import { ConfigurationError, type Ingestor, type Logger, type Pointer } from "@tidemark/core";
import {
  type Entry,
  getHistoryIngestorName,
  KIN2_MAINNET,
  KIN2_TESTNET,
  KIN3_MAINNET,
  KIN3_TESTNET,
  KinSolanaIngestor,
  KinStellarIngestor,
  KinVersion,
  ledgerFromPointer,
  type RetryListener,
  slotFromPointer,
  solanaPointer,
  stellarPointer,
} from "@tidemark/kin";
import type { ChainName } from "./chain-names.js";
import type { ChainConfig } from "./run-config.js";

/** How a chain's pointers read as block numbers. */
export interface ChainPointers {
  readonly chain: ChainName;
  readonly version: KinVersion;
  /** `slot` (kin4) or `ledger` (kin2, kin3). */
  readonly unit: "slot" | "ledger";
  /** The ingestor name commits are stored under, as agora names it (`history_KIN4`). */
  readonly ingestorName: string;
  toPointer(block: bigint): Pointer;
  /** Throws a clear error when the pointer is not this chain's. */
  toBlock(pointer: Pointer): bigint;
}

const versions: Record<ChainName, KinVersion> = {
  kin2: KinVersion.KIN2,
  kin3: KinVersion.KIN3,
  kin4: KinVersion.KIN4,
};

export function chainPointers(chain: ChainName): ChainPointers {
  const version = versions[chain];
  const ingestorName = getHistoryIngestorName(version);
  if (version === KinVersion.KIN4) {
    return { chain, version, unit: "slot", ingestorName, toPointer: solanaPointer, toBlock: slotFromPointer };
  }
  const stellarVersion = version as KinVersion.KIN2 | KinVersion.KIN3;
  return {
    chain,
    version,
    unit: "ledger",
    ingestorName,
    toPointer: (block) => stellarPointer(stellarVersion, block),
    toBlock: (pointer) => BigInt(ledgerFromPointer(pointer, stellarVersion)),
  };
}

/** What the service hears about the chain requests of an ingestor (metrics, health). */
export interface ChainRequestHooks {
  /** Every failed chain request that is about to be retried. */
  readonly onRetry?: RetryListener;
  /** Every chain request that succeeded, named as `onRetry` names it (it ends that request's failure streak). */
  readonly onRequestSucceeded?: (request: { backend: "solana" | "horizon"; operation: string }) => void;
}

/** A part of a chain ingested by an ingestor of its own (a backfill partition). */
export interface IngestedRange {
  /** The name its commits are stored under. */
  readonly name: string;
  /** Its last block (inclusive): nothing beyond it is fetched or written. */
  readonly lastBlock: bigint;
}

/**
 * The Kin ingestor a chain configuration asks for, reporting its chain
 * requests to `hooks`; with `range`, one that ingests only up to its last
 * block under its own name (Kin4 only: a Horizon stream cannot stop at a ledger).
 */
export function createChainIngestor(
  config: ChainConfig,
  endpoint: string,
  logger: Logger,
  { onRetry, onRequestSucceeded }: ChainRequestHooks = {},
  range?: IngestedRange,
): Ingestor<Entry> {
  const hooks = { ...(onRetry ? { onRetry } : {}), ...(onRequestSucceeded ? { onRequestSucceeded } : {}) };
  if (config.chain === "kin4") {
    const bounds = range ? { name: range.name, lastSlot: range.lastBlock } : {};
    const workers = config.workers === undefined ? {} : { workers: config.workers };
    return new KinSolanaIngestor({ rpcUrl: endpoint, logger, ...hooks, ...bounds, ...workers });
  }
  if (range)
    throw new ConfigurationError(
      `${config.chain}: backfill partitions need kin4 (a Horizon stream cannot stop at a ledger)`,
    );
  const version = config.chain === "kin2" ? KinVersion.KIN2 : KinVersion.KIN3;
  const network =
    config.chain === "kin2"
      ? config.network === "testnet"
        ? KIN2_TESTNET
        : KIN2_MAINNET
      : config.network === "testnet"
        ? KIN3_TESTNET
        : KIN3_MAINNET;
  return new KinStellarIngestor({
    horizonUrl: endpoint,
    version,
    networkPassphrase: network.passphrase,
    allowHttp: endpoint.startsWith("http:"),
    logger,
    ...hooks,
  });
}
