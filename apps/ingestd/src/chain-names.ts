/** The chains `tidemark` ingests, with agora's lock keys and ingestor names. */
export const chainNames = ["kin2", "kin3", "kin4"] as const;
export type ChainName = (typeof chainNames)[number];

export function isChainName(value: string): value is ChainName {
  return (chainNames as readonly string[]).includes(value);
}

/** agora's lock key for a chain's history ingestor, so a tidemark node can join a Go fleet. */
export function defaultLockKey(chain: ChainName): string {
  return `ingestor_history_${chain}`;
}
