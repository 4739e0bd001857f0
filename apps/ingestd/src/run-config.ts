import { readFileSync } from "node:fs";
import type { z } from "zod";
import type { BackfillConfig } from "./backfill-config.js";
import { type ChainName, defaultLockKey } from "./chain-names.js";
import { InvalidConfigError } from "./config-error.js";
import {
  configFileSchema,
  keepsHistory,
  runSettingsSchema,
  type SettingKey,
  type SettingNames,
  serveSettingNames,
  settingNames,
} from "./config-schema.js";

/** Consecutive failures of a chain request after which `/ready` turns false, unless configured. */
export const DEFAULT_UNREADY_AFTER_FAILURES = 5;

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
  /** kin4: worker threads reading blocks (0: the main thread; default one per core). */
  readonly workers?: number;
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
  /** Consecutive failures of a chain request after which `/ready` turns false (default 5). */
  readonly unreadyAfterFailures: number;
  /**
   * Backfill plans by chain (config `backfill`, `TIDEMARK_BACKFILL`): `run`
   * claims partitions of its chains' plans beside the live ingestor, and
   * readers show each partition's blocks up to that partition's pointer.
   */
  readonly backfill?: BackfillConfig;
}

/** What the user gave, before validation: flags, environment and file, each field named as the user wrote it. */
export interface RunInputs {
  readonly flags: Record<string, unknown>;
  readonly env: NodeJS.ProcessEnv;
}

/** A setting's raw value and its name as the user wrote it. */
interface Source {
  readonly value: unknown;
  readonly name: string;
}

/**
 * Resolves the run configuration: flags beat environment variables
 * (`TIDEMARK_*`), which beat the config file (`--config` / `TIDEMARK_CONFIG`,
 * JSON), which beats the defaults. The merged values are validated by one
 * schema ({@link runSettingsSchema}); every error names the setting as given.
 */
export function resolveRunConfig(inputs: RunInputs): RunConfig {
  const s = resolveSettings(settingNames, runSettingsSchema, inputs);

  const demo = s.demo === true || (s.rpc === undefined && s.horizon === undefined);
  const chains = s.chains ?? [s.horizon && !s.rpc ? "kin3" : "kin4"];
  const configs = chains.map(
    (chain): ChainConfig => ({
      chain,
      network: s.network ?? "mainnet",
      lockKey: s.lockKey ?? defaultLockKey(chain),
      ...(chain === "kin4" && s.rpc ? { rpc: s.rpc } : {}),
      ...(chain !== "kin4" && s.horizon ? { horizon: s.horizon } : {}),
      ...(s.from !== undefined ? { from: s.from } : {}),
      ...(s.until !== undefined ? { until: s.until } : {}),
      ...(chain === "kin4" && s.workers !== undefined ? { workers: s.workers } : {}),
    }),
  );
  const store = s.store ?? "sqlite:./tidemark.db";
  // By default history lives where commits do, so every node and reader of a fleet shares it.
  const history = s.history ?? (keepsHistory(store) ? store : undefined);
  return {
    chains: configs,
    store,
    ...(history !== undefined ? { history } : {}),
    demo,
    logLevel: s.logLevel ?? "info",
    status: s.status ?? "auto",
    coalesce: s.coalesce ?? true,
    unreadyAfterFailures: s.unreadyAfterFailures ?? DEFAULT_UNREADY_AFTER_FAILURES,
    ...(s.metricsPort !== undefined ? { metricsPort: s.metricsPort } : {}),
    ...(s.leaseMs !== undefined ? { leaseMs: s.leaseMs } : {}),
    ...(s.backfill !== undefined ? { backfill: s.backfill } : {}),
  };
}

/**
 * Merges one command's settings (`names`): flags beat environment variables,
 * which beat the config file; `schema` validates them all at once and the
 * first problem becomes an {@link InvalidConfigError} naming the setting as
 * the user gave it.
 */
export function resolveSettings<K extends string, T>(
  names: Readonly<Record<K, SettingNames>>,
  schema: (nameOf: (key: K) => string) => z.ZodType<T>,
  { flags, env }: RunInputs,
): T {
  const configSource = pickConfigPath(flags, env);
  const file = configSource === undefined ? {} : readConfigFile(configSource);
  const sources = new Map<K, Source>();
  for (const [key, setting] of Object.entries(names) as [K, SettingNames][]) {
    const source = pick(setting, flags, env, file, configSource?.path ?? "");
    if (source !== undefined) sources.set(key, source);
  }
  const nameOf = (key: K) => sources.get(key)?.name ?? `--${kebab(names[key].flag)}`;
  const raw = Object.fromEntries([...sources].map(([key, source]) => [key, source.value]));
  const parsed = schema(nameOf).safeParse(raw);
  if (!parsed.success) throw configError(parsed.error.issues[0] as z.core.$ZodIssue, sources, nameOf);
  return parsed.data;
}

/** The history URL of a command that reads or writes history; explains what to give when there is none. */
export function requireHistory(config: { readonly history?: string }): string {
  if (config.history !== undefined) return config.history;
  throw new InvalidConfigError(
    "--history",
    "the --store keeps commits and locks only, and history needs a store every node and reader shares: " +
      "give --history postgres://…, dynamodb:… or mongodb://…, or --history sqlite:PATH to keep it on this machine",
  );
}

function pick(
  names: SettingNames,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  fileName: string,
): Source | undefined {
  if (flags[names.flag] !== undefined) return { value: flags[names.flag], name: `--${kebab(names.flag)}` };
  if (env[names.env] !== undefined && env[names.env] !== "") return { value: env[names.env], name: names.env };
  if (file[names.file] !== undefined) return { value: file[names.file], name: `${fileName}: "${names.file}"` };
  return undefined;
}

/** The first problem the schema found, as the user should read it: the setting's name, the complaint, the value. */
function configError<K extends string>(
  issue: z.core.$ZodIssue,
  sources: ReadonlyMap<K, Source>,
  nameOf: (key: K) => string,
): InvalidConfigError {
  const key = issue.path[0] as K;
  const source = sources.get(key);
  // Custom issues say everything themselves; URL-valued settings are never echoed (they may carry secrets).
  const echo = issue.code !== "custom" && source !== undefined && !secretBearing.has(key);
  return new InvalidConfigError(nameOf(key), echo ? `${issue.message}, got ${show(source.value)}` : issue.message);
}

const secretBearing = new Set<string>(["rpc", "horizon", "store", "history"] satisfies SettingKey[]);

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
}

function pickConfigPath(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { path: string; name: string } | undefined {
  if (flags.config !== undefined) return { path: String(flags.config), name: "--config" };
  if (env.TIDEMARK_CONFIG !== undefined && env.TIDEMARK_CONFIG !== "") {
    return { path: env.TIDEMARK_CONFIG, name: "TIDEMARK_CONFIG" };
  }
  return undefined;
}

function readConfigFile({ path, name }: { path: string; name: string }): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidConfigError(name, `cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(path, `not valid JSON: ${(error as Error).message}`);
  }
  const checked = configFileSchema.safeParse(parsed);
  if (checked.success) return checked.data;
  const issue = checked.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === "unrecognized_keys") {
    const known = new Set([...Object.values(settingNames), ...Object.values(serveSettingNames)].map((n) => n.file));
    throw new InvalidConfigError(`${path}: "${issue.keys[0]}"`, `unknown setting (known: ${[...known].join(", ")})`);
  }
  throw new InvalidConfigError(path, issue.message);
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
