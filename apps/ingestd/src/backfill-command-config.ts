import { backfillSettings, type ConfiguredBackfill, configuredBackfill } from "./backfill-config.js";
import { isChainName } from "./chain-names.js";
import { InvalidConfigError } from "./config-error.js";
import { type RunConfig, resolveRunConfig } from "./run-config.js";

/**
 * `backfill`'s settings: store, history, endpoint, lease and logging as `run`
 * resolves them; the plan from the config file's `backfill` entry for the
 * chain, each of `--from`, `--until`, `--partition-size`, `--partitions`
 * overriding it. Everything is checked before any store is opened.
 */
export function resolveBackfillCommand(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { config: RunConfig; backfill: ConfiguredBackfill } {
  const chain = String(flags.chain ?? "kin4").toLowerCase();
  if (!isChainName(chain)) throw new InvalidConfigError("--chain", `unknown chain "${flags.chain}" (known: kin4)`);
  if (chain !== "kin4") {
    throw new InvalidConfigError("--chain", `backfill supports kin4 only (a Horizon stream cannot stop at a ledger)`);
  }
  const config = resolveRunConfig({
    flags: {
      chain,
      rpc: flags.rpc,
      store: flags.store,
      history: flags.history,
      config: flags.config,
      leaseMs: flags.leaseMs,
      metricsPort: flags.metricsPort,
      logLevel: flags.logLevel,
      status: "off",
      coalesce: flags.coalesce === false ? false : undefined,
    },
    env,
  });
  if (config.demo) throw new InvalidConfigError("--rpc", "required: backfill reads its range from a Solana RPC node");
  const configured = config.backfill?.[chain];
  const pick = (flag: string, file: unknown) => (flags[flag] !== undefined ? flags[flag] : file);
  const named = (flag: string, key: string) =>
    flags[flag] !== undefined || configured === undefined ? `--${kebab(flag)}` : `backfill.${chain}.${key}`;
  const settings = backfillSettings(
    chain,
    {
      from: pick("from", configured?.plan.from),
      until: pick("until", configured?.plan.until),
      partitionSize: pick("partitionSize", configured?.plan.partitionSize),
      partitions: pick("partitions", configured?.partitions),
    },
    {
      from: named("from", "from"),
      until: named("until", "until"),
      partitionSize: named("partitionSize", "partitionSize"),
      partitions: named("partitions", "partitions"),
    },
  );
  const backfill = configuredBackfill(chain, settings, {
    from: named("from", "from"),
    until: named("until", "until"),
    partitionSize: named("partitionSize", "partitionSize"),
    partitions: named("partitions", "partitions"),
  });
  return { config, backfill };
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
