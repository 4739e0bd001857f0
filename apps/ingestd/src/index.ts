export { type ChainName, chainNames, defaultLockKey } from "./chain-names.js";
export { type ChainPointers, chainPointers, createChainIngestor } from "./chain-runtime.js";
export { buildCli, type CliIo, EXIT_FAILURE, EXIT_USAGE, runCli } from "./cli.js";
export { InvalidConfigError } from "./config-error.js";
export { DemoNetwork, type DemoNetworkOptions } from "./demo-network.js";
export { type RunCommandOptions, runService } from "./run-command.js";
export { type ChainConfig, type RunConfig, resolveRunConfig } from "./run-config.js";
export { openStore } from "./stores/open-store.js";
export type { Store, StoreOptions } from "./stores/store.js";
