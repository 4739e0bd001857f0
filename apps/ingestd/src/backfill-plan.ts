import type { BlockRange } from "@tidemark/core";
import { type ChainName, defaultLockKey } from "./chain-names.js";
import { chainPointers } from "./chain-runtime.js";
import { InvalidConfigError } from "./config-error.js";

/**
 * Blocks per partition unless configured: 100,000 Solana slots, about 11
 * hours of chain at 400 ms a slot, or roughly an hour of one ingestor at the
 * 30 blocks/s a core manages. A year of slots (about 78 million) is then some
 * 800 partitions: enough that a fleet of dozens of nodes all find work, few
 * enough that every reader can afford to read each unfinished partition's
 * pointer, and a lock taken over loses nothing (work resumes at the pointer).
 */
export const DEFAULT_PARTITION_SIZE = 100_000n;

/**
 * The most partitions one plan may have: readers read every unfinished
 * partition's pointer and `/metrics` has a series per partition, so a tiny
 * partition size over a long range is refused rather than slowing every reader.
 */
export const MAX_PARTITIONS = 100_000;

/** A backfill plan as configured: the blocks after `from` through `until`, cut into partitions of `partitionSize`. */
export interface BackfillSettings {
  /** The block the range starts after (exclusive), as `run --from`. */
  readonly from: bigint;
  /** The last block of the range (inclusive), as `run --until`. */
  readonly until: bigint;
  /** Blocks (slots or ledgers) per partition (default {@link DEFAULT_PARTITION_SIZE}). */
  readonly partitionSize?: bigint;
  /** Partitions one node works on at once (`backfill --partitions`; `run` claims this many beside the live ingestor). */
  readonly partitions?: number;
}

/** One partition: its own ingestor name (commit pointer) and lock key, over the blocks after `after` through `through`. */
export interface Partition {
  readonly index: number;
  readonly after: bigint;
  readonly through: bigint;
  /** The range as pointers, for visibility. */
  readonly range: BlockRange;
  /** The name its commits are stored under, e.g. `history_KIN4:backfill:100-200`. */
  readonly ingestor: string;
  /** Its lock key, e.g. `ingestor_history_kin4:backfill:100-200`. */
  readonly lockKey: string;
}

/** A chain's backfill plan: every node, and every reader, of a fleet must derive the same one. */
export interface BackfillPlan {
  readonly chain: ChainName;
  readonly from: bigint;
  readonly until: bigint;
  readonly partitionSize: bigint;
  readonly partitions: readonly Partition[];
}

/** Where each setting came from, so errors name it as the user gave it. */
export interface PlanFieldNames {
  readonly from: string;
  readonly until: string;
  readonly partitionSize: string;
}

const flagNames: PlanFieldNames = { from: "--from", until: "--until", partitionSize: "--partition-size" };

/**
 * Cuts the blocks after `from` through `until` into partitions of
 * `partitionSize` (the last one may be shorter). Partition names and lock
 * keys derive from the chain's, with the range appended, so they never
 * collide with the live ingestor's (`history_KIN4`, `ingestor_history_kin4`)
 * that a Go fleet shares. Throws {@link InvalidConfigError} for an empty
 * range, a size below 1 or more than {@link MAX_PARTITIONS} partitions.
 */
export function backfillPlan(
  chain: ChainName,
  settings: BackfillSettings,
  names: PlanFieldNames = flagNames,
): BackfillPlan {
  const { from, until } = settings;
  const size = settings.partitionSize ?? DEFAULT_PARTITION_SIZE;
  if (from < 0n) throw new InvalidConfigError(names.from, `must be a block number, got ${from}`);
  if (until <= from) throw new InvalidConfigError(names.until, `must be after ${names.from} (${from}), got ${until}`);
  if (size < 1n) throw new InvalidConfigError(names.partitionSize, `must be at least 1, got ${size}`);
  const count = (until - from + size - 1n) / size;
  if (count > BigInt(MAX_PARTITIONS)) {
    throw new InvalidConfigError(
      names.partitionSize,
      `cuts ${from}-${until} into ${count} partitions, more than ${MAX_PARTITIONS}: give a larger size`,
    );
  }
  const pointers = chainPointers(chain);
  const lockKey = defaultLockKey(chain);
  const partitions: Partition[] = [];
  for (let after = from, index = 0; after < until; after += size, index++) {
    // biome-ignore lint/complexity/useMathMinMax: Math.min takes no bigints
    const through = after + size < until ? after + size : until;
    const suffix = `:backfill:${after}-${through}`;
    partitions.push({
      index,
      after,
      through,
      range: { after: pointers.toPointer(after), through: pointers.toPointer(through) },
      ingestor: `${pointers.ingestorName}${suffix}`,
      lockKey: `${lockKey}${suffix}`,
    });
  }
  return { chain, from, until, partitionSize: size, partitions };
}
