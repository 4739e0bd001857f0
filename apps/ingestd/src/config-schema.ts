import { isIP } from "node:net";
import { z } from "zod";
import { backfillSetting } from "./backfill-config.js";
import { blockProblem } from "./block-limits.js";
import { type ChainName, chainNames, isChainName } from "./chain-names.js";
import { checkStoreUrl } from "./stores/store-url.js";

/** Where a setting comes from: its flag (commander's key), its variable and its config-file key. */
export interface SettingNames {
  readonly flag: string;
  readonly env: string;
  readonly file: string;
}

/** Every `run` setting, in the order errors are reported. */
export const settingNames = {
  rpc: { flag: "rpc", env: "TIDEMARK_RPC", file: "rpc" },
  horizon: { flag: "horizon", env: "TIDEMARK_HORIZON", file: "horizon" },
  demo: { flag: "demo", env: "TIDEMARK_DEMO", file: "demo" },
  network: { flag: "network", env: "TIDEMARK_NETWORK", file: "network" },
  chains: { flag: "chain", env: "TIDEMARK_CHAIN", file: "chains" },
  from: { flag: "from", env: "TIDEMARK_FROM", file: "from" },
  until: { flag: "until", env: "TIDEMARK_UNTIL", file: "until" },
  lockKey: { flag: "lockKey", env: "TIDEMARK_LOCK_KEY", file: "lockKey" },
  store: { flag: "store", env: "TIDEMARK_STORE", file: "store" },
  history: { flag: "history", env: "TIDEMARK_HISTORY", file: "history" },
  metricsPort: { flag: "metricsPort", env: "TIDEMARK_METRICS_PORT", file: "metricsPort" },
  leaseMs: { flag: "leaseMs", env: "TIDEMARK_LEASE_MS", file: "leaseMs" },
  unreadyAfterFailures: {
    flag: "unreadyAfterFailures",
    env: "TIDEMARK_UNREADY_AFTER_FAILURES",
    file: "unreadyAfterFailures",
  },
  logLevel: { flag: "logLevel", env: "TIDEMARK_LOG_LEVEL", file: "logLevel" },
  status: { flag: "status", env: "TIDEMARK_STATUS", file: "status" },
  coalesce: { flag: "coalesce", env: "TIDEMARK_COALESCE", file: "coalesce" },
  workers: { flag: "workers", env: "TIDEMARK_WORKERS", file: "workers" },
  // No flag: `backfill`'s own flags override it; the file (or variable) is what a fleet's nodes and readers share.
  backfill: { flag: "backfillPlan", env: "TIDEMARK_BACKFILL", file: "backfill" },
} as const satisfies Record<string, SettingNames>;

export type SettingKey = keyof typeof settingNames;

/**
 * The `serve` settings: the store and history to read, the chains to answer
 * for, where to listen, metrics and logs. Shared settings keep `run`'s names,
 * so one config file can hold both commands' settings.
 */
export const serveSettingNames = {
  store: settingNames.store,
  history: settingNames.history,
  chains: settingNames.chains,
  port: { flag: "port", env: "TIDEMARK_SERVE_PORT", file: "servePort" },
  host: { flag: "host", env: "TIDEMARK_SERVE_HOST", file: "serveHost" },
  metricsPort: settingNames.metricsPort,
  logLevel: settingNames.logLevel,
  backfill: settingNames.backfill,
} as const satisfies Record<string, SettingNames>;

export type ServeSettingKey = keyof typeof serveSettingNames;

export const logLevels = ["trace", "debug", "info", "warn", "error", "silent"] as const;

// The longest a Node.js timer can wait; a longer lease would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_LEASE_MS = 100;

// Flags and variables are text: only plain decimal digits are numbers (no 0x10, 1e3, " 5" or "").
const digits = (expect: string) => z.string({ error: expect }).regex(/^[0-9]+$/, { error: expect });

/** A whole number from text digits or a JSON number; `expect` is the whole complaint. */
function integer(min: number, max: number, expect: string) {
  return z
    .union([z.int({ error: expect }), digits(expect).transform(Number)], { error: expect })
    .pipe(z.number().min(min, { error: expect }).max(max, { error: expect }));
}

const blockExpected = "must be a block number (slot or ledger)";
/** A block number (slot or ledger), exact however large; the chain's limit is checked with the other settings. */
const block = z
  .union([z.int({ error: blockExpected }).nonnegative({ error: blockExpected }), digits(blockExpected)], {
    error: blockExpected,
  })
  .transform((value) => BigInt(value));

// Real booleans (a flag without a value, JSON) or their names as text; not 1/0, yes/no or "".
const boolean = z.union([z.boolean(), z.enum(["true", "false"]).transform((text) => text === "true")], {
  error: "must be true or false",
});

const text = z.string({ error: "must be a non-empty string" }).trim().min(1, { error: "must be a non-empty string" });

/** An http(s) endpoint. Never echoed: a URL may carry an API key. */
const endpoint = text
  .pipe(z.url({ error: "not a URL (give http(s)://HOST[:PORT][/PATH])" }))
  .superRefine((value, ctx) => {
    const scheme = value.slice(0, value.indexOf(":") + 1).toLowerCase();
    if (scheme !== "http:" && scheme !== "https:") {
      ctx.addIssue({ code: "custom", message: `must be an http(s) URL, got ${JSON.stringify(scheme)}` });
    }
  });

const chainList = z
  .union([z.array(z.string()), z.string().transform((value) => value.split(","))], {
    error: `must name chains (${chainNames.join(", ")}), comma-separated or as a JSON array`,
  })
  .transform((names, ctx) => {
    const chains = names.map((name) => name.trim().toLowerCase());
    if (chains.length === 0 || chains.some((name) => name === "")) {
      ctx.addIssue({ code: "custom", message: "names no chain" });
      return z.NEVER;
    }
    const unknown = chains.find((name) => !isChainName(name));
    if (unknown !== undefined) {
      ctx.addIssue({ code: "custom", message: `unknown chain "${unknown}" (known: ${chainNames.join(", ")})` });
      return z.NEVER;
    }
    return [...new Set(chains)] as ChainName[];
  });

/** True for store URLs whose backend has a history store (etcd keeps commits and locks only). */
export function keepsHistory(url: string): boolean {
  return !/^etcds?:/.test(url);
}

/**
 * The schema of the merged `run` settings, each raw value as the user gave it
 * (text from a flag or variable, any JSON value from the file). `nameOf` names
 * a setting as the user wrote it, for the store-URL check, which reports
 * itself. Messages of field issues are completed with the value by the
 * caller; custom issues carry their whole message.
 */
export function runSettingsSchema(nameOf: (key: SettingKey) => string) {
  const storeUrl = (key: "store" | "history") => storeUrlSetting(key, nameOf);
  return z
    .object({
      rpc: endpoint.optional(),
      horizon: endpoint.optional(),
      demo: boolean.optional(),
      network: z.enum(["mainnet", "testnet"], { error: "must be one of mainnet, testnet" }).optional(),
      chains: chainList.optional(),
      from: block.optional(),
      until: block.optional(),
      lockKey: text.optional(),
      store: storeUrl("store").optional(),
      history: storeUrl("history").optional(),
      metricsPort: integer(0, 65_535, "must be a TCP port (0-65535)").optional(),
      leaseMs: integer(
        MIN_LEASE_MS,
        MAX_TIMER_MS,
        `must be a positive integer (milliseconds, ${MIN_LEASE_MS} to ${MAX_TIMER_MS})`,
      ).optional(),
      unreadyAfterFailures: integer(1, Number.MAX_SAFE_INTEGER, "must be a positive integer").optional(),
      logLevel: z.enum(logLevels, { error: `must be one of ${logLevels.join(", ")}` }).optional(),
      status: z.enum(["auto", "on", "off"], { error: "must be one of auto, on, off" }).optional(),
      coalesce: boolean.optional(),
      workers: integer(0, 1024, "must be 0 (blocks read on the main thread) or a number of worker threads").optional(),
      backfill: backfillSetting.optional(),
    })
    .superRefine((s, ctx) => {
      const fail = (key: SettingKey, message: string) => ctx.addIssue({ code: "custom", path: [key], message });
      const chains = s.chains ?? [s.horizon && !s.rpc ? "kin3" : "kin4"];
      const demo = s.demo === true || (s.rpc === undefined && s.horizon === undefined);
      if (demo && chains.some((chain) => chain !== "kin4")) {
        return fail("chains", "the demo simulates kin4 only; give --horizon for kin2/kin3");
      }
      if ((s.from !== undefined || s.until !== undefined) && chains.length > 1) {
        return fail(s.from !== undefined ? "from" : "until", "applies to one chain; give a single --chain");
      }
      const chain = chains[0] as ChainName;
      const fromProblem = s.from === undefined ? null : blockProblem(chain, s.from, true);
      if (fromProblem) return fail("from", `${fromProblem}, got ${s.from}`);
      const untilProblem = s.until === undefined ? null : blockProblem(chain, s.until, false);
      if (untilProblem) return fail("until", `${untilProblem}, got ${s.until}`);
      if (s.from !== undefined && s.until !== undefined && s.until <= s.from) {
        return fail("until", `must be after ${nameOf("from")} (${s.from}), got ${s.until}`);
      }
      if (s.lockKey !== undefined && chains.length > 1) {
        return fail("lockKey", "a single lock key cannot serve several chains");
      }
      if (chains.filter((c) => c !== "kin4").length > 1) {
        return fail("chains", "kin2 and kin3 need separate Horizon servers: run one process per chain");
      }
      if (!demo && chains.includes("kin4") && s.rpc === undefined) return fail("rpc", "kin4 needs a Solana RPC URL");
      const stellar = chains.find((c) => c !== "kin4");
      if (!demo && stellar !== undefined && s.horizon === undefined) {
        return fail("horizon", `${stellar} needs a Horizon URL`);
      }
    });
}

/** A store URL setting; `nameOf` names it as the user wrote it. */
function storeUrlSetting(key: "store" | "history", nameOf: (key: "store" | "history") => string) {
  return text.transform((value, ctx) => {
    // First: it refuses unknown kinds and unencoded credentials without echoing what may be a password.
    checkStoreUrl(value, nameOf(key));
    if (value === "sqlite:") {
      ctx.addIssue({ code: "custom", message: 'must be sqlite:PATH, got "sqlite:"' });
      return z.NEVER;
    }
    if (key === "history" && !keepsHistory(value)) {
      ctx.addIssue({
        code: "custom",
        message:
          "etcd keeps commits and locks only, not history: use postgres://…, dynamodb:…, mongodb://… or sqlite:PATH",
      });
      return z.NEVER;
    }
    return value;
  });
}

/** A host name or IP address to listen on (no scheme, port or path). */
const listenHost = text.refine(
  (value) => isIP(value) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value),
  {
    error: "must be a host name or IP address to listen on (such as 127.0.0.1, :: or localhost)",
  },
);

/** The schema of the merged `serve` settings, like {@link runSettingsSchema}. */
export function serveSettingsSchema(nameOf: (key: ServeSettingKey) => string) {
  const storeUrl = (key: "store" | "history") => storeUrlSetting(key, nameOf);
  const port = integer(0, 65_535, "must be a TCP port (0-65535)");
  return z
    .object({
      store: storeUrl("store").optional(),
      history: storeUrl("history").optional(),
      chains: chainList.optional(),
      port: port.optional(),
      host: listenHost.optional(),
      metricsPort: port.optional(),
      logLevel: z.enum(logLevels, { error: `must be one of ${logLevels.join(", ")}` }).optional(),
      backfill: backfillSetting.optional(),
    })
    .superRefine((s, ctx) => {
      if (s.port === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["port"],
          message: "required: the port to serve gRPC and Connect on (0: any free port)",
        });
      }
    });
}

/** The config file's shape: a JSON object of known settings only, of `run` and `serve` alike. */
export const configFileSchema = z.strictObject(
  Object.fromEntries(
    [...Object.values(settingNames), ...Object.values(serveSettingNames)].map(({ file }) => [
      file,
      z.unknown().optional(),
    ]),
  ),
  // Unknown keys are reported by name by the caller.
  { error: (issue) => (issue.code === "unrecognized_keys" ? undefined : "must hold a JSON object") },
);
