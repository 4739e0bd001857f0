import { hostname } from "node:os";
import { ConfigurationError, type LockState, type Pointer, pointersEqual, pointerToHex } from "@tidemark/core";
import { blockProblem } from "./block-limits.js";
import { type ChainName, chainNames, defaultLockKey } from "./chain-names.js";
import { chainPointers } from "./chain-runtime.js";
import { InvalidConfigError } from "./config-error.js";
import type { Store } from "./stores/store.js";

/** One ingestor's commit, decoded. */
export interface CommitReport {
  readonly chain: ChainName;
  readonly ingestor: string;
  readonly version: string;
  /** `slot` or `ledger`. */
  readonly unit: string;
  readonly block: string | null;
  readonly pointer: string | null;
  readonly lock?: { readonly key: string; readonly holder: LockState | null };
}

/** Reads every chain's committed pointer (and, with `withLock`, its lock holder). */
export async function readCommits(
  store: Store,
  chains: readonly ChainName[],
  withLock: boolean,
): Promise<CommitReport[]> {
  const reports: CommitReport[] = [];
  for (const chain of chains) {
    const pointers = chainPointers(chain);
    const latest = await store.committer.latest(pointers.ingestorName);
    const report: CommitReport = {
      chain,
      ingestor: pointers.ingestorName,
      version: pointers.ingestorName.slice("history_".length),
      unit: pointers.unit,
      block: latest === null ? null : describeBlock(latest, pointers.toBlock),
      pointer: latest === null ? null : pointerToHex(latest),
    };
    if (!withLock) {
      reports.push(report);
      continue;
    }
    const key = defaultLockKey(chain);
    const lock = store.createLock(key, { owner: `${hostname()}:${process.pid}` });
    const holder = (await lock.describe?.()) ?? null;
    reports.push({ ...report, lock: { key, holder } });
  }
  return reports;
}

export interface SetCommitOptions {
  readonly chain: ChainName;
  readonly block: bigint;
  readonly force: boolean;
  readonly lockKey?: string;
  /**
   * Asked before a pointer moves backwards, with what becomes invisible;
   * the pointer is set only if it resolves true.
   */
  readonly confirmBackwards?: (rewind: Rewind) => Promise<boolean>;
}

/** A backwards move of a commit pointer: the committed blocks after `to` up to `from` become invisible to readers. */
export interface Rewind {
  readonly chain: ChainName;
  readonly ingestor: string;
  /** `slot` or `ledger`. */
  readonly unit: string;
  /** The block committed now. */
  readonly from: bigint;
  /** The block it is set back to. */
  readonly to: bigint;
}

/** What an operator reads before a rewind: the range that disappears until it is ingested again. */
export function describeRewind(rewind: Rewind): string {
  const units = `${rewind.unit}s`;
  return (
    `${rewind.ingestor}: moving the commit back from ${rewind.unit} ${rewind.from} to ${rewind.to} hides the history of ` +
    `${units} ${rewind.to + 1n} to ${rewind.from} from every reader until they are ingested again`
  );
}

/** The --force refusal, checked before any store is opened. */
export function requireForce(force: boolean): void {
  if (!force) {
    throw new InvalidConfigError(
      "--force",
      "setting a commit pointer rewrites what every node resumes from; repeat with --force",
    );
  }
}

/**
 * Sets a chain's commit pointer for repairs, as agora's `historyctl commit`
 * did: only with `force`, through `Committer.reset` so a concurrent change is
 * detected, and never while another node holds the chain's lock. A backwards
 * move is set only once `confirmBackwards` agreed; `null` means it declined
 * and nothing changed.
 */
export async function setCommit(
  store: Store,
  options: SetCommitOptions,
): Promise<{ old: Pointer | null; new: Pointer } | null> {
  requireForce(options.force);
  const pointers = chainPointers(options.chain);
  const key = options.lockKey ?? defaultLockKey(options.chain);
  const lock = store.createLock(key, { owner: `${hostname()}:${process.pid}` });
  const assertFree = async () => {
    const holder = (await lock.describe?.()) ?? null;
    if (holder !== null) {
      throw new ConfigurationError(
        `lock "${key}" is held by ${holder.owner} (token ${holder.token ?? "none"}): stop that node before setting the commit of ${pointers.ingestorName}`,
      );
    }
  };
  await assertFree();
  const old = await store.committer.latest(pointers.ingestorName);
  const next = pointers.toPointer(options.block);
  if (old !== null && pointersEqual(old, next)) return { old, new: next };
  const current = old === null ? null : pointers.toBlock(old);
  if (current !== null && options.block < current) {
    const rewind: Rewind = {
      chain: options.chain,
      ingestor: pointers.ingestorName,
      unit: pointers.unit,
      from: current,
      to: options.block,
    };
    if (options.confirmBackwards && !(await options.confirmBackwards(rewind))) return null;
    // A node may have started while the operator read the warning.
    await assertFree();
  }
  // The reset compares against `old`, so a commit made meanwhile is detected, not overwritten.
  await store.committer.reset(pointers.ingestorName, old, next);
  return { old, new: next };
}

export function parseChain(value: string, field: string): ChainName {
  const chain = value.toLowerCase();
  if (!(chainNames as readonly string[]).includes(chain)) {
    throw new InvalidConfigError(field, `unknown chain "${value}" (known: ${chainNames.join(", ")})`);
  }
  return chain as ChainName;
}

/**
 * A block number argument of `chain`, within what its client can take;
 * `resumesAfter` when ingestion continues at the next block (a commit pointer).
 */
export function parseBlock(value: string, field: string, chain: ChainName, resumesAfter = false): bigint {
  if (!/^[0-9]+$/.test(value))
    throw new InvalidConfigError(field, `must be a block number (slot or ledger), got "${value}"`);
  const block = BigInt(value);
  const problem = blockProblem(chain, block, resumesAfter);
  if (problem !== null) throw new InvalidConfigError(field, `${problem}, got ${value}`);
  return block;
}

/** A pointer as its block number, or a note that it is not this chain's (a foreign or damaged value). */
function describeBlock(pointer: Pointer, toBlock: (p: Pointer) => bigint): string {
  try {
    return toBlock(pointer).toString();
  } catch (error) {
    return `undecodable (${(error as Error).message})`;
  }
}
