import { ConfigurationError, type HistoryReader, isTidemarkError, pointerToHex } from "@tidemark/core";
import { type Entry, kinHistoryCodec } from "@tidemark/kin";
import { Command, CommanderError, Option } from "commander";
import { resolveBackfillCommand } from "./backfill-command-config.js";
import { backfillStatus, formatEta } from "./backfill-status.js";
import { planVisibility } from "./backfill-visibility.js";
import type { ChainName } from "./chain-names.js";
import { chainNames } from "./chain-names.js";
import { chainPointers } from "./chain-runtime.js";
import { describeRewind, parseBlock, parseChain, readCommits, requireForce, setCommit } from "./commits-command.js";
import { confirmByTyping } from "./confirm.js";
import { entryView } from "./entry-view.js";
import { requireHistory, resolveRunConfig } from "./run-config.js";
import { resolveServeConfig } from "./serve-config.js";
import { openHistoryTarget } from "./stores/history-target.js";
import { openStore } from "./stores/open-store.js";
import type { StoreOptions } from "./stores/store.js";
import { formatTable } from "./table.js";
import { parseTransactionId } from "./transaction-id.js";

// Each command loads its service when it runs (`await import`): `run` never loads the simulator, the
// Stellar SDK or the gRPC server, which cost tens of MB of a process that should stay small.

/** Exit codes: 0 done, 1 a runtime failure, 2 bad usage or configuration. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const exitCodes = `Exit codes:
  0  done
  1  a runtime failure: a store or chain failed, nothing was found, a repair was not confirmed
  2  bad usage or configuration: a flag, variable, config-file key or argument is wrong,
     or a store a command only reads does not exist`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Aborts a running service (SIGINT/SIGTERM in the real binary). */
  readonly signal: AbortSignal;
  /** Where confirmations are read when it is a terminal (`process.stdin` in the binary); without it, none is asked. */
  readonly stdin?: NodeJS.ReadableStream & { readonly isTTY?: boolean };
}

const storeOptions = (command: Command) =>
  command
    .option(
      "--store <url>",
      "commits and locks: sqlite:PATH, etcd://HOST:PORT, dynamodb:[//ENDPOINT], mongodb://… (env TIDEMARK_STORE; default sqlite:./tidemark.db)",
    )
    .option(
      "--history <url>",
      "where history goes: sqlite:PATH, dynamodb:…, mongodb://… (env TIDEMARK_HISTORY; default: the --store itself; required with an etcd store)",
    )
    .option("--config <file>", "a JSON file with any of these settings (env TIDEMARK_CONFIG)");

/** Builds the `tidemark` command line; `io` lets tests run it in-process. */
export function buildCli(io: CliIo): Command {
  const program = new Command("tidemark")
    .description(
      "Ingest Kin (Kin2, Kin3 on Horizon; Kin4 on Solana) into a history store, each block exactly once across a fleet.",
    )
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      // One line, like every other refusal: commander's "error: …" becomes "tidemark: …".
      outputError: (s, write) => write(`tidemark: ${s.trim().replace(/^error: /, "")} (see --help)\n`),
    })
    .exitOverride()
    .addHelpText("afterAll", `\n${exitCodes}`);

  storeOptions(
    program
      .command("run")
      .description("Follow chains and ingest their Kin transactions (with no endpoint: a local simulated Kin4 network)")
      .addOption(
        new Option(
          "--chain <names>",
          `chains to ingest, comma-separated (${chainNames.join(", ")}; env TIDEMARK_CHAIN)`,
        ),
      )
      .option("--rpc <url>", "Solana JSON-RPC endpoint for kin4 (env TIDEMARK_RPC)")
      .option("--horizon <url>", "Horizon endpoint for kin2 or kin3 (env TIDEMARK_HORIZON)")
      .addOption(
        new Option("--network <name>", "mainnet or testnet passphrases for kin2/kin3 (env TIDEMARK_NETWORK)").choices([
          "mainnet",
          "testnet",
        ]),
      )
      .option("--demo", "ingest from an in-process simulated Kin4 network (the default without --rpc/--horizon)")
      .option("--from <block>", "when nothing is committed yet, start after this slot or ledger (env TIDEMARK_FROM)")
      .option("--until <block>", "stop once this slot or ledger is committed, releasing the lock (env TIDEMARK_UNTIL)")
      .option("--lock-key <key>", "lock key (default agora's ingestor_history_kinN; env TIDEMARK_LOCK_KEY)")
      .option("--lease-ms <ms>", "lock lease in ms, 100 to 2147483647 (env TIDEMARK_LEASE_MS)")
      .option(
        "--unready-after-failures <n>",
        "consecutive failures of a chain request after which /ready turns false (env TIDEMARK_UNREADY_AFTER_FAILURES; default 5)",
      )
      .option(
        "--workers <n>",
        "kin4: worker threads reading blocks, 0 to read them on the main thread (env TIDEMARK_WORKERS; default one per core)",
      )
      .option(
        "--metrics-port <port>",
        "serve /metrics, /healthz, /ready and /leader on this port (env TIDEMARK_METRICS_PORT)",
      )
      .option("--log-level <level>", "trace, debug, info, warn, error or silent (env TIDEMARK_LOG_LEVEL)")
      .option("--status <mode>", "live status line: auto (on a terminal), on or off (env TIDEMARK_STATUS)")
      .option("--no-coalesce", "one backend write per block, exactly as agora did"),
  ).action(async (flags: Record<string, unknown>) => {
    const normalized = { ...flags, coalesce: flags.coalesce === false ? false : undefined };
    const config = resolveRunConfig({ flags: normalized, env: io.env });
    const { runService } = await import("./run-command.js");
    await runService({ config, signal: io.signal });
  });

  storeOptions(
    program
      .command("backfill")
      .description(
        "Ingest a range of a chain in partitions, each its own ingestor with its own pointer and lock, together with every other node backfilling it; exits 0 once every partition is done",
      )
      .option("--chain <name>", "the chain (kin4)", "kin4")
      .option("--rpc <url>", "Solana JSON-RPC endpoint (env TIDEMARK_RPC)")
      .option(
        "--from <block>",
        "the range starts after this slot (exclusive; default: the config file's backfill plan)",
      )
      .option("--until <block>", "the range's last slot (inclusive; default: the config file's backfill plan)")
      .option("--partition-size <blocks>", "slots per partition (default 100000)")
      .option("--partitions <n>", "partitions this node works on at once (default 1)")
      .option("--lease-ms <ms>", "lock lease in ms, 100 to 2147483647 (env TIDEMARK_LEASE_MS)")
      .option("--metrics-port <port>", "serve /metrics with every partition's progress on this port")
      .option("--log-level <level>", "trace, debug, info, warn, error or silent (env TIDEMARK_LOG_LEVEL)")
      .option("--no-coalesce", "one backend write per block"),
  ).action(async (flags: Record<string, unknown>) => {
    const { config, backfill } = resolveBackfillCommand(flags, io.env);
    const { backfillService } = await import("./backfill-command.js");
    try {
      await backfillService({ config, backfill, signal: io.signal });
    } catch (error) {
      if (io.signal.aborted)
        throw new Error(
          `backfill stopped (${String(io.signal.reason?.message ?? io.signal.reason)}) before every partition was done`,
        );
      throw error;
    }
  });

  program
    .command("serve")
    .description(
      "Serve agora's Transaction v4 GetHistory and GetTransaction from the history (gRPC, gRPC-Web and Connect JSON on one port)",
    )
    .option("--port <port>", "listen on this port; 0 picks a free one, logged as grpcPort (env TIDEMARK_SERVE_PORT)")
    .option("--host <address>", "listen on this address (env TIDEMARK_SERVE_HOST; default 127.0.0.1)")
    .option(
      "--store <url>",
      "the commit store whose pointers bound what is shown: sqlite:PATH, postgres://…, dynamodb:…, mongodb://…, etcd://… (env TIDEMARK_STORE; default: the --history itself, else sqlite:./tidemark.db)",
    )
    .option(
      "--history <url>",
      "where the history is (env TIDEMARK_HISTORY; default: the --store itself; required with an etcd store)",
    )
    .addOption(
      new Option(
        "--chain <names>",
        `chains to answer for, comma-separated (${chainNames.join(", ")}; env TIDEMARK_CHAIN; default kin4)`,
      ),
    )
    .option("--metrics-port <port>", "serve /metrics, /healthz and /ready on this port (env TIDEMARK_METRICS_PORT)")
    .option("--log-level <level>", "trace, debug, info, warn, error or silent (env TIDEMARK_LOG_LEVEL)")
    .option("--config <file>", "a JSON file with any of these settings (env TIDEMARK_CONFIG)")
    .action(async (flags: Record<string, unknown>) => {
      const config = resolveServeConfig({ flags, env: io.env });
      const { serveService } = await import("./serve-command.js");
      await serveService({ config, signal: io.signal });
    });

  program
    .command("simulate")
    .description("Serve a simulated Kin4 network (Solana JSON-RPC on loopback) until stopped; prints its URL")
    .option("--port <port>", "listen on this port (default: any free one)")
    .option("--block-ms <ms>", "a new block this often (0: none)", "400")
    .option("--backlog <blocks>", "blocks generated before serving", "1")
    .option("--seed <seed>", "seed of the simulated wallets")
    .option("--latency-ms <ms>", "delay every RPC answer this long, as a remote node's round trip (default 0)")
    .addOption(
      new Option(
        "--shape <shape>",
        "kin: a few Kin transactions a block; mainnet: about 1,200 (3/4 votes, SOL, USDC, swaps, a few Kin)",
      )
        .choices(["kin", "mainnet"])
        .default("kin"),
    )
    .option("--transactions <count>", "transactions per block with --shape mainnet (default 1200)")
    .option("--kin-transfers <count>", "Kin transfers per block with --shape mainnet (default 4)")
    .option(
      "--repeat-every <blocks>",
      "with --shape mainnet: repeat the traffic around the Kin transfers every N blocks (at most 64; about 2.3 MB kept per block of the cycle), so the simulator costs little beside an ingestor on the same cores (default: never)",
    )
    .action(async (flags: Record<string, string | undefined>) => {
      const number = (name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER) =>
        wholeNumber(value, `--${name}`, 0, max);
      const common = {
        blockIntervalMs: number("block-ms", flags.blockMs),
        backlog: Math.max(1, number("backlog", flags.backlog)),
        ...(flags.port ? { port: number("port", flags.port, 65_535) } : {}),
        ...(flags.seed ? { seed: flags.seed } : {}),
        ...(flags.latencyMs ? { latencyMs: number("latency-ms", flags.latencyMs, 60_000) } : {}),
      };
      if (
        flags.shape !== "mainnet" &&
        (flags.transactions !== undefined || flags.kinTransfers !== undefined || flags.repeatEvery !== undefined)
      )
        throw new InvalidUsage("--transactions, --kin-transfers and --repeat-every need --shape mainnet");
      const network =
        flags.shape === "mainnet"
          ? await (await import("./mainnet-network.js")).MainnetNetwork.start({
              ...common,
              ...(flags.transactions === undefined
                ? {}
                : { transactionsPerBlock: wholeNumber(flags.transactions, "--transactions", 1, 100_000) }),
              ...(flags.kinTransfers === undefined
                ? {}
                : { kinTransfersPerBlock: number("kin-transfers", flags.kinTransfers, 100_000) }),
              ...(flags.repeatEvery === undefined
                ? {}
                : { repeatEvery: wholeNumber(flags.repeatEvery, "--repeat-every", 1, 64) }),
            })
          : await (await import("./demo-network.js")).DemoNetwork.start(common);
      io.out(
        JSON.stringify({
          rpc: network.url,
          blocks: network.blocks,
          firstSlot: network.firstSlot?.toString(),
          lastSlot: network.tipSlot?.toString(),
        }),
      );
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        io.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await network.stop();
    });

  const commits = program.command("commits").description("Show or repair commit pointers");
  storeOptions(
    commits
      .command("list")
      .description("Every chain's committed pointer, decoded")
      .option("--json", "one JSON object per line"),
  ).action(async (flags: Record<string, unknown>) => {
    await withStore(flags, io, readOnly, async (store) => {
      const reports = await readCommits(store, chainNames, false);
      if (flags.json) for (const r of reports) io.out(JSON.stringify(r));
      else
        io.out(
          formatTable(
            ["chain", "ingestor", "unit", "block", "pointer"],
            reports.map((r) => [r.chain, r.ingestor, r.unit, r.block ?? "(none)", r.pointer ?? "-"]),
          ),
        );
    });
  });
  storeOptions(
    commits
      .command("status")
      .description(
        "Committed pointers with each chain's lock holder and lease, and every backfill partition's progress and estimated time to finish",
      )
      .option("--json", "one JSON object per line")
      .option(
        "--sample-ms <ms>",
        "with a backfill plan: read the partitions' pointers twice this far apart to estimate their rates (0: once, no estimates)",
        "3000",
      ),
  ).action(async (flags: Record<string, unknown>) => {
    const sampleMs = wholeNumber(flags.sampleMs, "--sample-ms", 0, 600_000);
    const plans = Object.values(resolveRunConfig({ flags: pickStoreFlags(flags), env: io.env }).backfill ?? {});
    await withStore(flags, io, readOnly, async (store) => {
      const reports = await readCommits(store, chainNames, true);
      const partitions = [];
      for (const { plan } of plans) partitions.push(...(await backfillStatus(store, plan, sampleMs, io.signal)));
      if (flags.json) {
        for (const r of reports) io.out(JSON.stringify(r, jsonBigints));
        for (const p of partitions) io.out(JSON.stringify(p, jsonBigints));
        return;
      }
      io.out(
        formatTable(
          ["chain", "block", "lock key", "holder", "token", "lease ms"],
          reports.map((r) => [
            r.chain,
            r.block ?? "(none)",
            r.lock?.key ?? "-",
            r.lock?.holder?.owner ?? "(free)",
            r.lock?.holder?.token?.toString() ?? "-",
            r.lock?.holder?.leaseMs?.toString() ?? "-",
          ]),
        ),
      );
      if (partitions.length === 0) return;
      io.out("");
      io.out(
        formatTable(
          ["backfill partition", "block", "done", "blocks/s", "eta", "holder"],
          partitions.map((p) => [
            p.partition === "total" ? `${p.chain} total ${p.after}-${p.through}` : p.partition,
            p.block ?? "(none)",
            `${p.percent}%`,
            p.blocksPerSecond?.toString() ?? "-",
            formatEta(p.etaSeconds),
            p.partition === "total" ? "" : (p.holder?.owner ?? (p.percent >= 100 ? "-" : "(free)")),
          ]),
        ),
      );
    });
  });
  storeOptions(
    commits
      .command("get")
      .description("One chain's committed pointer and lock")
      .argument("<chain>")
      .option("--json", "JSON output"),
  ).action(async (chainArg: string, flags: Record<string, unknown>) => {
    const chain = parseChain(chainArg, "<chain>");
    await withStore(flags, io, readOnly, async (store) => {
      const [report] = await readCommits(store, [chain], true);
      if (flags.json) io.out(JSON.stringify(report, jsonBigints));
      else
        io.out(
          `${report?.ingestor}: ${report?.unit} ${report?.block ?? "(none)"}  pointer ${report?.pointer ?? "-"}  lock ${report?.lock?.holder?.owner ?? "(free)"}`,
        );
    });
  });
  storeOptions(
    commits
      .command("set")
      .description("Set a chain's commit pointer for repairs (refused while another node holds its lock)")
      .argument("<chain>")
      .argument("<block>", "slot (kin4) or ledger (kin2, kin3)")
      .option("--force", "required: confirms the rewrite")
      .option("--lock-key <key>", "the lock to check (default agora's ingestor_history_kinN)"),
  ).action(async (chainArg: string, blockArg: string, flags: Record<string, unknown>) => {
    const chain = parseChain(chainArg, "<chain>");
    const block = parseBlock(blockArg, "<block>", chain, true);
    requireForce(flags.force === true);
    await withStore(flags, io, {}, async (store) => {
      const pointers = chainPointers(chain);
      const result = await setCommit(store, {
        chain,
        block,
        force: true,
        ...(typeof flags.lockKey === "string" ? { lockKey: flags.lockKey } : {}),
        confirmBackwards: async (rewind) => {
          io.err(`tidemark: warning: ${describeRewind(rewind)}`);
          // A script (no terminal) has said --force; a person at a terminal confirms by typing the chain.
          const stdin = io.stdin;
          if (stdin?.isTTY !== true) return true;
          return confirmByTyping({ expected: chain, input: stdin, write: io.err, signal: io.signal });
        },
      });
      if (result === null)
        throw new Declined(`${pointers.ingestorName}: not confirmed; the commit pointer is unchanged`);
      const describe = (p: Uint8Array | null) =>
        p === null ? "(none)" : `${pointers.unit} ${pointers.toBlock(p)} (${pointerToHex(p)})`;
      io.out(`${pointers.ingestorName}: old ${describe(result.old)}`);
      io.out(`${pointers.ingestorName}: new ${describe(result.new)}`);
    });
  });

  storeOptions(
    program
      .command("store")
      .description("Prepare a store")
      .command("init")
      .description(
        "Create the tables a store needs, idempotently (DynamoDB: agora's tx-history-commits and tx-history-locks)",
      ),
  ).action(async (flags: Record<string, unknown>) => {
    await withStore(flags, io, {}, async (store) => {
      await store.init?.();
      io.out(`${store.label}: ready`);
    });
  });

  const history = program.command("history").description("Read back what was ingested (committed blocks only)");
  const historyCommand = (name: string, description: string) =>
    storeOptions(
      history
        .command(name)
        .description(description)
        .addOption(new Option("--chain <name>", "kin2, kin3 or kin4").default("kin4"))
        .option("--json", "one JSON object per line with stable field names"),
    );
  historyCommand("tx", "One transaction by id (base58 signature for kin4, hex hash for kin2/kin3)")
    .argument("<txId>")
    .action(async (id: string, flags: Record<string, unknown>) => {
      const chain = parseChain(String(flags.chain), "--chain");
      await withHistory(flags, io, chain, async (reader) => {
        const entry = await reader.getTransaction(parseTransactionId(chain, id));
        if (entry === null) throw new NotFoundError(`no committed ${chain} transaction ${id}`);
        printEntries([entry], chain, flags, io);
      });
    });
  historyCommand("account", "An account's transactions (a base58 token account or owner, or a G… key)")
    .argument("<account>")
    .addOption(new Option("--order <order>", "asc or desc").choices(["asc", "desc"]).default("asc"))
    .option("--cursor <hex>", "ordering key to continue after (hex, from a previous page)")
    .option("--limit <n>", "at most this many (default 100)", "100")
    .action(async (account: string, flags: Record<string, unknown>) => {
      const chain = parseChain(String(flags.chain), "--chain");
      const limit = wholeNumber(flags.limit, "--limit", 1, Number.MAX_SAFE_INTEGER);
      const cursor = flags.cursor === undefined ? undefined : parseHex(String(flags.cursor), "--cursor");
      await withHistory(flags, io, chain, async (reader) => {
        const entries = await reader.getAccountHistory(account, {
          order: flags.order === "desc" ? "desc" : "asc",
          limit,
          ...(cursor ? { cursor } : {}),
        });
        printEntries(entries, chain, flags, io);
      });
    });
  historyCommand("blocks", "Transactions of a block range (slots or ledgers, inclusive)")
    .argument("<from>")
    .argument("<to>")
    .action(async (fromArg: string, toArg: string, flags: Record<string, unknown>) => {
      const chain = parseChain(String(flags.chain), "--chain");
      const pointers = chainPointers(chain);
      const from = parseBlock(fromArg, "<from>", chain);
      const to = parseBlock(toArg, "<to>", chain);
      if (to < from) throw new InvalidUsage(`<to>: must not be below <from> (${from}), got ${to}`);
      await withHistory(flags, io, chain, async (reader) => {
        printEntries(await reader.getBlockRange(pointers.toPointer(from), pointers.toPointer(to)), chain, flags, io);
      });
    });
  return program;
}

/** Runs the command line; resolves with the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof InvalidUsage || isTidemarkError(error, ConfigurationError)) {
      io.err(`tidemark: ${(error as Error).message}`);
      return EXIT_USAGE;
    }
    if (error instanceof NotFoundError || error instanceof Declined) {
      io.err(`tidemark: ${error.message}`);
      return EXIT_FAILURE;
    }
    io.err(`tidemark: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

class InvalidUsage extends Error {}
class NotFoundError extends Error {}
/** The operator answered no to a confirmation: nothing changed, but the command did not do its job. */
class Declined extends Error {}

/** Commands that only read never create a store, file, table or index. */
const readOnly: StoreOptions = { readOnly: true };

/** A whole number given as plain decimal digits (no 0x10, 1e3 or spaces) within `[min, max]`. */
function wholeNumber(value: unknown, field: string, min: number, max: number): number {
  const n = typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new InvalidUsage(`${field}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

async function withStore<T>(
  flags: Record<string, unknown>,
  io: CliIo,
  options: StoreOptions,
  body: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const config = resolveRunConfig({ flags: pickStoreFlags(flags), env: io.env });
  const store = await openStore(config.store, options);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

async function withHistory(
  flags: Record<string, unknown>,
  io: CliIo,
  chain: ChainName,
  body: (reader: HistoryReader<Entry>) => Promise<void>,
): Promise<void> {
  const config = resolveRunConfig({ flags: pickStoreFlags(flags), env: io.env });
  const historyUrl = requireHistory(config);
  await withStore(flags, io, readOnly, async (store) => {
    const target = await openHistoryTarget(historyUrl, config.store, store, readOnly);
    try {
      const live = chainPointers(chain).ingestorName;
      // With a backfill plan, each partition's blocks show up to that partition's own pointer.
      const backfill = config.backfill?.[chain];
      const reader = target.open(
        live,
        kinHistoryCodec,
        backfill ? { visibility: planVisibility({ plan: backfill.plan, committer: store.committer, live }) } : {},
      );
      try {
        await body(reader);
      } finally {
        await reader.close();
      }
    } finally {
      await target.close();
    }
  });
}

function pickStoreFlags(flags: Record<string, unknown>): Record<string, unknown> {
  return { store: flags.store, history: flags.history, config: flags.config, demo: true };
}

function printEntries(
  entries: Parameters<typeof entryView>[0][],
  chain: ReturnType<typeof parseChain>,
  flags: Record<string, unknown>,
  io: CliIo,
): void {
  const version = chainPointers(chain).ingestorName.slice("history_".length);
  const views = entries.map((entry) => entryView(entry, version));
  if (flags.json) {
    for (const view of views) io.out(JSON.stringify(view));
    return;
  }
  io.out(
    formatTable(
      ["block", "txId", "error", "time"],
      views.map((v) => [
        "slot" in v ? `slot ${v.slot}` : `ledger ${v.ledger}`,
        v.txId,
        "transactionError" in v ? (v.transactionError ?? "") : "",
        v.blockTime ?? "",
      ]),
    ),
  );
}

function parseHex(text: string, field: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new InvalidUsage(`${field}: must be hex, got "${text}"`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

function jsonBigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
