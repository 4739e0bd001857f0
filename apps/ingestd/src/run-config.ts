import { readFileSync } from "node:fs";
import { type ChainName, chainNames, defaultLockKey, isChainName } from "./chain-names.js";
import { InvalidConfigError } from "./config-error.js";

/** One chain to follow. */
export interface ChainConfig {
  readonly chain: ChainName;
  /** Solana JSON-RPC endpoint (kin4). */
  readonly rpc?: string;
  /** Horizon endpoint (kin2, kin3). */
  readonly horizon?: string;
  readonly network: "mainnet" | "testnet";
  readonly lockKey: string;
  /** Treat this block (slot or ledger) as committed when nothing is committed yet. */
  readonly from?: bigint;
  /** Stop once this block (slot or ledger) is committed. */
  readonly until?: bigint;
}

export interface RunConfig {
  readonly chains: readonly ChainConfig[];
  /** Where commits and the lock live: `sqlite:PATH`, `etcd://…`, `dynamodb:…`, `mongodb://…`. */
  readonly store: string;
  /**
   * Where history entries go: a store URL of a backend that keeps history
   * (`sqlite:PATH`, `dynamodb:…`, `mongodb://…`). Absent when `store` keeps
   * none (etcd) and none was given: {@link requireHistory} then explains.
   */
  readonly history?: string;
  /** Run the in-process Kin4 simulator instead of a real chain. */
  readonly demo: boolean;
  readonly metricsPort?: number;
  readonly logLevel: "trace" | "debug" | "info" | "warn" | "error" | "silent";
  /** Live status line on a terminal; `auto` shows it when stderr is a TTY. */
  readonly status: "auto" | "on" | "off";
  readonly coalesce: boolean;
  /** Lock lease in ms (SQLite default 6000). */
  readonly leaseMs?: number;
}

/** What the user gave, before validation: flags, environment and file, each field named as the user wrote it. */
export interface RunInputs {
  readonly flags: Record<string, unknown>;
  readonly env: NodeJS.ProcessEnv;
}

interface Source {
  readonly value: unknown;
  readonly name: string;
}

const logLevels = ["trace", "debug", "info", "warn", "error", "silent"] as const;

/**
 * Resolves the run configuration: flags beat environment variables
 * (`TIDEMARK_*`), which beat the config file (`--config` / `TIDEMARK_CONFIG`,
 * JSON), which beats the defaults. Every error names the field as given.
 */
export function resolveRunConfig({ flags, env }: RunInputs): RunConfig {
  const configPath = (flags.config as string | undefined) ?? env.TIDEMARK_CONFIG;
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const fileName = configPath ?? "";
  const pick = (flag: string, envName: string, fileKey: string): Source | undefined => {
    if (flags[flag] !== undefined) return { value: flags[flag], name: `--${kebab(flag)}` };
    if (env[envName] !== undefined && env[envName] !== "") return { value: env[envName], name: envName };
    if (file[fileKey] !== undefined) return { value: file[fileKey], name: `${fileName}: "${fileKey}"` };
    return undefined;
  };

  const rpc = optionalUrl(pick("rpc", "TIDEMARK_RPC", "rpc"));
  const horizon = optionalUrl(pick("horizon", "TIDEMARK_HORIZON", "horizon"));
  const demo = bool(pick("demo", "TIDEMARK_DEMO", "demo")) ?? false;
  const network = oneOf(pick("network", "TIDEMARK_NETWORK", "network"), ["mainnet", "testnet"] as const) ?? "mainnet";
  const chainSource = pick("chain", "TIDEMARK_CHAIN", "chains");
  const chains = chainList(chainSource) ?? [horizon && !rpc ? "kin3" : "kin4"];
  const useDemo = demo || (rpc === undefined && horizon === undefined);
  if (useDemo && chains.some((c) => c !== "kin4")) {
    throw new InvalidConfigError(
      chainSource?.name ?? "--chain",
      "the demo simulates kin4 only; give --horizon for kin2/kin3",
    );
  }
  const from = blockNumber(pick("from", "TIDEMARK_FROM", "from"));
  const until = blockNumber(pick("until", "TIDEMARK_UNTIL", "until"));
  if ((from !== undefined || until !== undefined) && chains.length > 1) {
    throw new InvalidConfigError(
      from !== undefined ? "--from" : "--until",
      "applies to one chain; give a single --chain",
    );
  }
  if (from !== undefined && until !== undefined && until <= from) {
    throw new InvalidConfigError("--until", `must be after --from (${from}), got ${until}`);
  }
  const lockKeySource = pick("lockKey", "TIDEMARK_LOCK_KEY", "lockKey");
  if (lockKeySource && chains.length > 1) {
    throw new InvalidConfigError(lockKeySource.name, "a single lock key cannot serve several chains");
  }
  const stellarChains = chains.filter((c) => c !== "kin4");
  if (stellarChains.length > 1) {
    throw new InvalidConfigError(
      chainSource?.name ?? "--chain",
      "kin2 and kin3 need separate Horizon servers: run one process per chain",
    );
  }
  const configs = chains.map((chain): ChainConfig => {
    if (!useDemo && chain === "kin4" && rpc === undefined)
      throw new InvalidConfigError("--rpc", "kin4 needs a Solana RPC URL");
    if (!useDemo && chain !== "kin4" && horizon === undefined) {
      throw new InvalidConfigError("--horizon", `${chain} needs a Horizon URL`);
    }
    return {
      chain,
      network,
      lockKey: lockKeySource ? nonEmpty(lockKeySource) : defaultLockKey(chain),
      ...(chain === "kin4" && rpc ? { rpc } : {}),
      ...(chain !== "kin4" && horizon ? { horizon } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(until !== undefined ? { until } : {}),
    };
  });

  const store = storeUrl(pick("store", "TIDEMARK_STORE", "store")) ?? "sqlite:./tidemark.db";
  const historySource = pick("history", "TIDEMARK_HISTORY", "history");
  // By default history lives where commits do, so every node and reader of a fleet shares it.
  const history = historySource ? historyUrl(historySource) : keepsHistory(store) ? store : undefined;
  const metricsPort = port(pick("metricsPort", "TIDEMARK_METRICS_PORT", "metricsPort"));
  const leaseMs = positiveInteger(pick("leaseMs", "TIDEMARK_LEASE_MS", "leaseMs"));
  return {
    chains: configs,
    store,
    ...(history !== undefined ? { history } : {}),
    demo: useDemo,
    logLevel: oneOf(pick("logLevel", "TIDEMARK_LOG_LEVEL", "logLevel"), logLevels) ?? "info",
    status: oneOf(pick("status", "TIDEMARK_STATUS", "status"), ["auto", "on", "off"] as const) ?? "auto",
    coalesce: bool(pick("coalesce", "TIDEMARK_COALESCE", "coalesce")) ?? true,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {}),
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidConfigError(
      "--config",
      `cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(path, `not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidConfigError(path, "must hold a JSON object");
  }
  const known = new Set([
    "rpc",
    "horizon",
    "demo",
    "network",
    "chains",
    "from",
    "until",
    "lockKey",
    "store",
    "history",
    "metricsPort",
    "logLevel",
    "status",
    "coalesce",
    "leaseMs",
  ]);
  for (const key of Object.keys(parsed)) {
    if (!known.has(key))
      throw new InvalidConfigError(`${path}: "${key}"`, `unknown setting (known: ${[...known].join(", ")})`);
  }
  return parsed as Record<string, unknown>;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function nonEmpty(source: Source): string {
  if (typeof source.value !== "string" || source.value.trim() === "") {
    throw new InvalidConfigError(source.name, `must be a non-empty string, got ${JSON.stringify(source.value)}`);
  }
  return source.value;
}

function optionalUrl(source: Source | undefined): string | undefined {
  if (source === undefined) return undefined;
  const text = nonEmpty(source);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidConfigError(source.name, `not a URL: "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidConfigError(source.name, `must be an http(s) URL, got "${text}"`);
  }
  return text;
}

function storeUrl(source: Source | undefined): string | undefined {
  if (source === undefined) return undefined;
  const text = nonEmpty(source);
  if (!/^(sqlite:|etcd:|etcds:|dynamodb:|mongodb:|mongodb\+srv:|postgres:|postgresql:)/.test(text)) {
    throw new InvalidConfigError(
      source.name,
      // Only the scheme: the rest of a URL may hold a password.
      `unknown store kind "${text.split(":")[0]}": use sqlite:PATH, etcd://HOST:PORT, dynamodb:[//ENDPOINT], mongodb://… or postgres://…`,
    );
  }
  if (text.startsWith("sqlite:")) return sqliteUrl(source);
  return text;
}

/** True for store URLs whose backend has a history store (etcd keeps commits and locks only). */
export function keepsHistory(url: string): boolean {
  return !/^etcds?:/.test(url);
}

function historyUrl(source: Source): string {
  const url = storeUrl(source) as string;
  if (!keepsHistory(url)) {
    throw new InvalidConfigError(
      source.name,
      "etcd keeps commits and locks only, not history: use postgres://…, dynamodb:…, mongodb://… or sqlite:PATH",
    );
  }
  return url;
}

/** The history URL of a command that reads or writes history; explains what to give when there is none. */
export function requireHistory(config: RunConfig): string {
  if (config.history !== undefined) return config.history;
  throw new InvalidConfigError(
    "--history",
    "the --store keeps commits and locks only, and history needs a store every node and reader shares: " +
      "give --history postgres://…, dynamodb:… or mongodb://…, or --history sqlite:PATH to keep it on this machine",
  );
}

function sqliteUrl(source: Source): string {
  const text = nonEmpty(source);
  if (!text.startsWith("sqlite:") || text.length === "sqlite:".length) {
    throw new InvalidConfigError(source.name, `must be sqlite:PATH, got "${text}"`);
  }
  return text;
}

function bool(source: Source | undefined): boolean | undefined {
  if (source === undefined) return undefined;
  if (typeof source.value === "boolean") return source.value;
  if (source.value === "true" || source.value === "1") return true;
  if (source.value === "false" || source.value === "0") return false;
  throw new InvalidConfigError(source.name, `must be true or false, got ${JSON.stringify(source.value)}`);
}

function oneOf<T extends string>(source: Source | undefined, allowed: readonly T[]): T | undefined {
  if (source === undefined) return undefined;
  if (typeof source.value === "string" && (allowed as readonly string[]).includes(source.value))
    return source.value as T;
  throw new InvalidConfigError(
    source.name,
    `must be one of ${allowed.join(", ")}, got ${JSON.stringify(source.value)}`,
  );
}

function chainList(source: Source | undefined): ChainName[] | undefined {
  if (source === undefined) return undefined;
  const raw = Array.isArray(source.value) ? source.value : String(source.value).split(",");
  const chains = raw.map((c) => String(c).trim().toLowerCase());
  if (chains.length === 0 || chains.some((c) => c === "")) throw new InvalidConfigError(source.name, "names no chain");
  for (const chain of chains) {
    if (!isChainName(chain)) {
      throw new InvalidConfigError(source.name, `unknown chain "${chain}" (known: ${chainNames.join(", ")})`);
    }
  }
  return [...new Set(chains)] as ChainName[];
}

function blockNumber(source: Source | undefined): bigint | undefined {
  if (source === undefined) return undefined;
  const text = String(source.value).trim();
  if (!/^\d+$/.test(text))
    throw new InvalidConfigError(source.name, `must be a block number (slot or ledger), got "${text}"`);
  return BigInt(text);
}

function port(source: Source | undefined): number | undefined {
  if (source === undefined) return undefined;
  const value = Number(source.value);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new InvalidConfigError(source.name, `must be a TCP port (0-65535), got ${JSON.stringify(source.value)}`);
  }
  return value;
}

function positiveInteger(source: Source | undefined): number | undefined {
  if (source === undefined) return undefined;
  const value = Number(source.value);
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidConfigError(source.name, `must be a positive integer, got ${JSON.stringify(source.value)}`);
  }
  return value;
}
