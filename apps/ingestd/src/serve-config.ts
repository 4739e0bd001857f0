import type { BackfillConfig } from "./backfill-config.js";
import type { ChainName } from "./chain-names.js";
import { keepsHistory, serveSettingNames, serveSettingsSchema } from "./config-schema.js";
import type { LogLevel } from "./logger.js";
import { type RunInputs, requireHistory, resolveSettings } from "./run-config.js";

/** What `tidemark serve` reads and where it listens. */
export interface ServeConfig {
  /** The commit store whose pointers bound what readers see (default: the history's backend, else `sqlite:./tidemark.db`). */
  readonly store: string;
  /** Where the history is (by default the store itself). */
  readonly history: string;
  /** The chains whose history is served (default kin4 only). */
  readonly chains: readonly ChainName[];
  /** The gRPC / gRPC-Web / Connect port; 0 picks a free one. */
  readonly port: number;
  /** The address to listen on (default 127.0.0.1: loopback only). */
  readonly host: string;
  readonly metricsPort?: number;
  readonly logLevel: LogLevel;
  /** Backfill plans by chain, as `run` is given them: partitions' blocks show up to each partition's pointer. */
  readonly backfill?: BackfillConfig;
}

/**
 * Resolves `serve`'s settings from flags, `TIDEMARK_*` variables and the
 * config file, with `run`'s precedence and error style: every error names the
 * flag, variable or file key it is about.
 */
export function resolveServeConfig(inputs: RunInputs): ServeConfig {
  const s = resolveSettings(serveSettingNames, serveSettingsSchema, inputs);
  // `serve --history URL` alone reads the commits kept beside that history (every history backend keeps them).
  const store = s.store ?? s.history ?? "sqlite:./tidemark.db";
  // As for `run`: the history is the store's own unless the store keeps none (etcd).
  const history = s.history ?? (keepsHistory(store) ? store : undefined);
  return {
    store,
    history: requireHistory(history === undefined ? {} : { history }),
    chains: s.chains ?? ["kin4"],
    // The superRefine of the schema refuses a missing port.
    port: s.port as number,
    host: s.host ?? "127.0.0.1",
    logLevel: s.logLevel ?? "info",
    ...(s.metricsPort !== undefined ? { metricsPort: s.metricsPort } : {}),
    ...(s.backfill !== undefined ? { backfill: s.backfill } : {}),
  };
}
