import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber, sleep } from "@tidemark/core";
import type { TcpFaultProxy } from "@tidemark/test-servers";
import type { MongoClient } from "mongodb";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { openClient } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";

const p = (n: number) => pointerFromNumber(n);

let proxy: TcpFaultProxy;
let uri: string;
beforeAll(async () => {
  ({ proxy, uri } = await proxyFor(inject("mongodbUri")));
});
afterAll(async () => {
  await proxy?.close();
});

/** The monitor of the client's one server, reached through driver internals to stage the bug. */
function monitorOf(client: MongoClient): { connection: { socket: { destroy(): void } } | null } {
  const servers = (client as unknown as { topology: { s: { servers: Map<string, { monitor: never }> } } }).topology.s
    .servers;
  return [...servers.values()][0]?.monitor as never;
}

/**
 * Stages the race the driver loses: the monitor's socket dies just as it sends a heartbeat on it. Then the
 * connections the commits use are cut, so the server is marked unknown and only the monitor could find it again.
 */
async function strandMonitor(client: MongoClient, committer: MongoCommitter, ingestor: string): Promise<void> {
  await committer.commit(ingestor, null, p(1));
  await new Promise<void>((resolve) => {
    const onStarted = () => {
      const connection = monitorOf(client)?.connection;
      if (!connection) return;
      client.off("serverHeartbeatStarted", onStarted);
      connection.socket.destroy();
      resolve();
    };
    client.on("serverHeartbeatStarted", onStarted);
  });
  proxy.down();
  // Cut short by its own deadline, as the lock's requests are: no server selection error reaches the adapter.
  await expect(committer.latest(ingestor, { signal: AbortSignal.timeout(500) })).rejects.toThrow();
  proxy.resume();
}

/** Tries `attempt` until it succeeds or `ms` pass; true if it succeeded. */
async function eventually(attempt: () => Promise<unknown>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (
      await attempt().then(
        () => true,
        () => false,
      )
    )
      return true;
    await sleep(100);
  }
  return false;
}

it("recovers a client whose server monitor the driver left stuck after a cut connection", async () => {
  const client = openClient(uri, { serverSelectionTimeoutMS: 1000, heartbeatFrequencyMS: 500 });
  const committer = new MongoCommitter({ client });
  const ingestor = uniqueName("stuck-monitor");
  await strandMonitor(client, committer, ingestor);
  expect(await eventually(() => committer.commit(ingestor, p(1), p(2)), 15_000), "committed again").toBe(true);
  expect(await committer.latest(ingestor)).toEqual(p(2));
});

it("recovers it also when only the lock's requests, cut short by their deadline, meet the failure", async () => {
  // Server selection outlasts the lock's 5 s read deadline: the lock never sees the driver's error itself.
  const client = openClient(uri, { serverSelectionTimeoutMS: 6000, heartbeatFrequencyMS: 500 });
  const ingestor = uniqueName("stuck-monitor-lock");
  await strandMonitor(client, new MongoCommitter({ client }), ingestor);
  const lock = new MongoLock({ client, key: uniqueName("stuck-monitor-lock") });
  try {
    expect(await eventually(() => lock.lock(AbortSignal.timeout(20_000)), 40_000), "acquired again").toBe(true);
  } finally {
    await lock.close();
  }
});
