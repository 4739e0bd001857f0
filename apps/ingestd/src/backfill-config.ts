import { z } from "zod";
import { type BackfillPlan, type BackfillSettings, backfillPlan } from "./backfill-plan.js";
import { blockProblem } from "./block-limits.js";
import { type ChainName, chainNames, isChainName } from "./chain-names.js";
import { InvalidConfigError } from "./config-error.js";

/** Partitions one node works on at once unless configured: see {@link DEFAULT_CLAIMS}. */
export interface ConfiguredBackfill {
  readonly plan: BackfillPlan;
  /** Partitions this node claims at once. */
  readonly partitions: number;
}

/** Every chain's configured backfill, by chain. */
export type BackfillConfig = Partial<Record<ChainName, ConfiguredBackfill>>;

/**
 * One partition per node unless configured, so a fleet of N nodes works on N
 * partitions: the per-block CPU of one ingestor is spread over the cores by
 * its worker pool already. More per node pays when the RPC's latency, not the
 * CPU, bounds a partition (`--partitions`).
 */
export const DEFAULT_CLAIMS = 1;

/** The most partitions one node may work on at once: each is an ingestor with its own RPC requests in flight. */
export const MAX_CLAIMS = 256;

const fields = ["from", "until", "partitionSize", "partitions"] as const;

/**
 * The `backfill` setting: per chain, the plan every node and reader of the
 * fleet shares, as a JSON object (config file) or JSON text
 * (`TIDEMARK_BACKFILL`): `{"kin4": {"from": A, "until": B, "partitionSize":
 * N, "partitions": N}}`. Readers compute what is visible from it, so every
 * `run`, `backfill`, `serve` and `history` of a fleet must be given the same.
 */
export const backfillSetting = z
  .union([z.record(z.string(), z.unknown()), z.string().transform(parseJson)], {
    error: 'must be an object of chains, e.g. {"kin4": {"from": 1000, "until": 2000}}',
  })
  .transform((value, ctx) => {
    try {
      return resolveBackfill(value);
    } catch (error) {
      if (!(error instanceof InvalidConfigError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message });
      return z.NEVER;
    }
  });

function parseJson(text: string, ctx: z.RefinementCtx): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  ctx.addIssue({ code: "custom", message: 'must be a JSON object of chains, e.g. {"kin4": {"from": 1, "until": 2}}' });
  return z.NEVER;
}

/** Validates every chain's entry; errors name the chain and the key inside it. */
function resolveBackfill(value: Record<string, unknown>): BackfillConfig {
  const out: BackfillConfig = {};
  for (const [name, entry] of Object.entries(value)) {
    if (!isChainName(name)) {
      throw new InvalidConfigError(name, `unknown chain (known: ${chainNames.join(", ")})`);
    }
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new InvalidConfigError(name, "must be an object with from, until and optionally partitionSize, partitions");
    }
    const record = entry as Record<string, unknown>;
    const unknown = Object.keys(record).find((key) => !(fields as readonly string[]).includes(key));
    if (unknown !== undefined)
      throw new InvalidConfigError(`${name}.${unknown}`, `unknown (known: ${fields.join(", ")})`);
    const settings = backfillSettings(name, {
      from: record.from,
      until: record.until,
      partitionSize: record.partitionSize,
      partitions: record.partitions,
    });
    out[name] = configuredBackfill(name, settings, {
      from: `${name}.from`,
      until: `${name}.until`,
      partitionSize: `${name}.partitionSize`,
      partitions: `${name}.partitions`,
    });
  }
  return out;
}

/** Raw values as given (text from flags, numbers from JSON). */
export interface RawBackfill {
  readonly from?: unknown;
  readonly until?: unknown;
  readonly partitionSize?: unknown;
  readonly partitions?: unknown;
}

export interface BackfillFieldNames {
  readonly from: string;
  readonly until: string;
  readonly partitionSize: string;
  readonly partitions: string;
}

/** Validated settings of `chain` from raw values; `from` and `until` are required. */
export function backfillSettings(
  chain: ChainName,
  raw: RawBackfill,
  names: BackfillFieldNames = {
    from: `${chain}.from`,
    until: `${chain}.until`,
    partitionSize: `${chain}.partitionSize`,
    partitions: `${chain}.partitions`,
  },
): BackfillSettings {
  const from = wholeNumber(raw.from, names.from, true);
  const until = wholeNumber(raw.until, names.until, true);
  const partitionSize = wholeNumber(raw.partitionSize, names.partitionSize, false);
  const partitions = wholeNumber(raw.partitions, names.partitions, false);
  const fromProblem = blockProblem(chain, from as bigint, true);
  if (fromProblem) throw new InvalidConfigError(names.from, `${fromProblem}, got ${from}`);
  const untilProblem = blockProblem(chain, until as bigint, false);
  if (untilProblem) throw new InvalidConfigError(names.until, `${untilProblem}, got ${until}`);
  if (partitions !== undefined && (partitions < 1n || partitions > BigInt(MAX_CLAIMS))) {
    throw new InvalidConfigError(names.partitions, `must be from 1 to ${MAX_CLAIMS}, got ${partitions}`);
  }
  return {
    from: from as bigint,
    until: until as bigint,
    ...(partitionSize !== undefined ? { partitionSize } : {}),
    ...(partitions !== undefined ? { partitions: Number(partitions) } : {}),
  };
}

/** The plan of validated settings, with how many partitions a node claims. */
export function configuredBackfill(
  chain: ChainName,
  settings: BackfillSettings,
  names: BackfillFieldNames,
): ConfiguredBackfill {
  return { plan: backfillPlan(chain, settings, names), partitions: settings.partitions ?? DEFAULT_CLAIMS };
}

function wholeNumber(value: unknown, field: string, required: true): bigint;
function wholeNumber(value: unknown, field: string, required: false): bigint | undefined;
function wholeNumber(value: unknown, field: string, required: boolean): bigint | undefined {
  if (value === undefined) {
    if (required) throw new InvalidConfigError(field, "required");
    return undefined;
  }
  if (typeof value === "bigint" && value >= 0n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^[0-9]+$/.test(value)) return BigInt(value);
  throw new InvalidConfigError(field, `must be a whole number, got ${JSON.stringify(value)}`);
}
