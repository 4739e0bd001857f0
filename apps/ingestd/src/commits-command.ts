import { hostname } from "node:os";
import { ConfigurationError, type LockState, type Pointer, pointersEqual, pointerToHex } from "@tidemark/core";
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
}

/**
 * Sets a chain's commit pointer for repairs, as agora's `historyctl commit`
 * did: only with `force`, through `Committer.reset` so a concurrent change is
 * detected, and never while another node holds the chain's lock.
 */
export async function setCommit(
  store: Store,
  options: SetCommitOptions,
): Promise<{ old: Pointer | null; new: Pointer }> {
  if (!options.force) {
    throw new InvalidConfigError(
      "--force",
      "setting a commit pointer rewrites what every node resumes from; repeat with --force",
    );
  }
  const pointers = chainPointers(options.chain);
  const key = options.lockKey ?? defaultLockKey(options.chain);
  const lock = store.createLock(key, { owner: `${hostname()}:${process.pid}` });
  const holder = (await lock.describe?.()) ?? null;
  if (holder !== null) {
    throw new ConfigurationError(
      `lock "${key}" is held by ${holder.owner} (token ${holder.token ?? "none"}): stop that node before setting the commit of ${pointers.ingestorName}`,
    );
  }
  const old = await store.committer.latest(pointers.ingestorName);
  const next = pointers.toPointer(options.block);
  if (old !== null && pointersEqual(old, next)) return { old, new: next };
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

export function parseBlock(value: string, field: string): bigint {
  if (!/^\d+$/.test(value))
    throw new InvalidConfigError(field, `must be a block number (slot or ledger), got "${value}"`);
  return BigInt(value);
}

/** A pointer as its block number, or a note that it is not this chain's (a foreign or damaged value). */
function describeBlock(pointer: Pointer, toBlock: (p: Pointer) => bigint): string {
  try {
    return toBlock(pointer).toString();
  } catch (error) {
    return `undecodable (${(error as Error).message})`;
  }
}
