import { uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  ConfigurationError,
  isTidemarkError,
  type Pointer,
  pointerToBigInt,
  type RunEvent,
  run,
  SequenceIngestor,
  sleep,
} from "@tidemark/core";
import { startMongoJavaServer, type TcpFaultProxy } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { openClient } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";

/**
 * Longer than a holder keeps its lease without a renewal (3000 - 500 ms), so the outage also costs it the
 * lock, and longer than one request's old budget of connect retries (3 tries of 200 ms plus 1 s and 2 s
 * pauses), after which it used to end `run` with ConfigurationError.
 */
const OUTAGE_MS = 5000;

/** A way for the server to go away for a while, as the runner's client sees it. */
interface Outage {
  readonly uri: string;
  readonly describe: string;
  during(work: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** A server the tests did not start (MONGODB_URI) cannot be killed: then only the proxy case runs. */
const kinds = inject("mongodbLocal") ? (["proxy", "restart"] as const) : (["proxy"] as const);
const outages = new Map<string, Outage>();
beforeAll(async () => {
  const { proxy, uri } = await proxyFor(inject("mongodbUri"));
  outages.set("proxy", proxyOutage(proxy, uri));
  if (inject("mongodbLocal")) {
    // A real restart on the same port: the H2 backend reopens the same file.
    const server = await startMongoJavaServer({ backend: "h2" });
    outages.set("restart", {
      uri: server.uri,
      describe: "mongo-java-server (H2 file) killed and started again",
      during: async (work) => {
        await server.stop({ signal: "SIGKILL" });
        try {
          await work();
        } finally {
          await server.start();
        }
      },
      close: () => server.close(),
    });
  }
});
afterAll(async () => {
  for (const outage of outages.values()) await outage.close();
  outages.clear();
});

function proxyOutage(proxy: TcpFaultProxy, uri: string): Outage {
  return {
    uri,
    describe: "every connection cut and refused by a proxy",
    during: async (work) => {
      proxy.down();
      try {
        await work();
      } finally {
        proxy.resume();
      }
    },
    close: () => proxy.close(),
  };
}

const block = (pointer: Pointer | null) => (pointer === null ? 0n : pointerToBigInt(pointer));

it.each(kinds)(
  "keeps `run` committing after a 5-second outage (%s), retrying it as BackendUnavailableError",
  async (kind) => {
    const outage = outages.get(kind) as Outage;
    const client = openClient(outage.uri, { serverSelectionTimeoutMS: 200 });
    const ingestor = uniqueName("outage");
    const events: RunEvent[] = [];
    const controller = new AbortController();
    let outcome: unknown = "running";
    const running = run({
      signal: controller.signal,
      lock: new MongoLock({ client, key: uniqueName("outage-lock"), leaseMs: 3000, pollMs: 100 }),
      committer: new MongoCommitter({ client }),
      ingestor: new SequenceIngestor({ name: ingestor, delayMs: 5, concurrency: 4 }),
      writer: { write: async () => {} },
      lockRetryMs: 200,
      restartInitialMs: 50,
      restartMaxMs: 500,
      onEvent: (event) => events.push(event),
    }).then(
      () => "resolved",
      (error: unknown) => error,
    );
    void running.then((ended) => (outcome = ended));
    const highest = () =>
      events.reduce(
        (max, event) => (event.type === "committed" && block(event.block) > max ? block(event.block) : max),
        0n,
      );
    const waitFor = async (target: bigint, what: string) => {
      const deadline = performance.now() + 60_000;
      while (highest() < target) {
        if (outcome !== "running") throw new Error(`run ended while waiting for ${what}: ${String(outcome)}`);
        if (performance.now() > deadline) throw new Error(`no commit past ${target - 1n} (${what}) within 60 s`);
        await sleep(20);
      }
    };

    await waitFor(20n, "commits before the outage");
    await outage.during(() => sleep(OUTAGE_MS));
    expect(outcome, `run during the outage (${outage.describe})`).toBe("running");
    const lastBefore = highest();
    await waitFor(lastBefore + 20n, "commits after the outage");

    const reason = new Error("test over");
    controller.abort(reason);
    expect(await running, "run ended only by its signal").toBe(reason);
    const errors = events.flatMap((event) => (event.type === "error" || event.type === "restart" ? [event.error] : []));
    expect(
      errors.some((error) => isTidemarkError(error, BackendUnavailableError)),
      "the outage surfaced as BackendUnavailableError",
    ).toBe(true);
    expect(errors.filter((error) => isTidemarkError(error, ConfigurationError))).toEqual([]);
    const stored = await new MongoCommitter({ client: openClient(outage.uri) }).latest(ingestor);
    expect(block(stored)).toBeGreaterThanOrEqual(lastBefore + 20n);
  },
);
