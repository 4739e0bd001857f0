import { sleep } from "@tidemark/core";
import { startPostgres, type TcpFaultProxy } from "@tidemark/test-servers";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PostgresCommitter } from "../src/index.js";
import {
  acknowledged,
  createFaultSchema,
  expectCleanChain,
  type FaultSchema,
  type Runner,
  startFleet,
  waitForBlock,
} from "./support/fleet.js";
import { openPool, proxied } from "./support/postgres.js";

const BLOCKS = 1500;
/** The runners' lease (startFleet): the long outage lasts longer than it. */
const LEASE_MS = 3000;

/** The server the runners use, and how to take it down while they commit. */
interface Target {
  readonly url: string;
  readonly describe: string;
  /** Stops the server (fast shutdown, or SIGKILL of the whole server with crash recovery), waits, starts it. */
  outage(kind: "SIGTERM" | "SIGKILL", downMs: number): Promise<void>;
  close(): Promise<void>;
}

let target: Target;
let pool: pg.Pool;
let schema: FaultSchema;
beforeAll(async () => {
  if (inject("postgresLocal")) {
    // This file stops and kills its server, so it runs one of its own.
    const server = await startPostgres();
    target = {
      url: server.url,
      describe: "a PostgreSQL of its own, stopped or killed and started again",
      outage: async (kind, downMs) => {
        await server.stop({ signal: kind });
        await sleep(downMs);
        await server.start();
      },
      close: () => server.close(),
    };
  } else {
    // POSTGRES_URL cannot be restarted from here: cut every connection and refuse new ones for a while.
    const { proxy, url } = await proxied();
    target = {
      url,
      describe: "POSTGRES_URL through a proxy that drops every connection for a while",
      outage: async (_kind, downMs) => {
        (proxy as TcpFaultProxy).down();
        await sleep(downMs);
        proxy.resume();
      },
      close: async () => {},
    };
  }
  pool = openPool(target.url);
  schema = await createFaultSchema(pool, "restart");
}, 60_000);
afterAll(async () => {
  await schema?.drop().catch(() => {});
  await target?.close();
});

describe("server restarts during a two-runner run", () => {
  it("loses no commit and commits none twice over a fast shutdown and a SIGKILL with crash recovery", async () => {
    const runners = await runThrough([
      [300n, "SIGTERM", 500],
      [800n, "SIGKILL", 500],
    ]);
    const failed = runners.flatMap((runner) => runner.committer.attempts).filter((a) => a.outcome === "unknown");
    expect(failed.length, "commits the outages cut off").toBeGreaterThan(0);
  });

  it("carries on after the server was stopped for longer than the lease", async () => {
    const runners = await runThrough([[400n, "SIGTERM", LEASE_MS + 1500]]);
    // The holder could not renew for longer than its lease: it gave the lock up, and it was acquired again.
    const holdings = runners.flatMap((runner) => runner.lock.intervals);
    expect(holdings.length, `holdings (${target.describe})`).toBeGreaterThanOrEqual(2);
  });
});

async function runThrough(outages: readonly (readonly [bigint, "SIGTERM" | "SIGKILL", number])[]): Promise<Runner[]> {
  const signal = AbortSignal.timeout(150_000);
  const { ingestor, runners } = await startFleet({ url: target.url, schema, blocks: BLOCKS, signal });
  const checker = new PostgresCommitter({ connectionString: target.url, table: schema.commitsTable });
  try {
    for (const [at, kind, downMs] of outages) {
      await waitForBlock(runners, at, signal);
      const before = acknowledged(runners);
      await target.outage(kind, downMs);
      // What was acknowledged before the outage survived it (fast shutdown and crash recovery alike).
      const stored = await checker.latest(ingestor);
      expect(
        stored === null ? 0n : BigInt(`0x${Buffer.from(stored).toString("hex")}`),
        `after ${kind}`,
      ).toBeGreaterThanOrEqual(before);
    }
    await Promise.all(runners.map((runner) => runner.done));
  } finally {
    await checker.close();
  }
  await expectCleanChain(schema, ingestor, runners, BLOCKS);
  return runners;
}
