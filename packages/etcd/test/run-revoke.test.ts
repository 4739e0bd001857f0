import { uniqueName } from "@tidemark/conformance";
import {
  MemoryHistoryStore,
  pointerFromNumber,
  pointerToHex,
  type RunEvent,
  run,
  SequenceIngestor,
  sequenceCodec,
} from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import { adminClient, newCommitter, newLock, revokeHolder } from "./helpers.js";

const admin = adminClient();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type Timed = RunEvent & { readonly at: number };

describe("run on etcd", () => {
  it("stops committing within two heartbeats of its lease being revoked mid-ingestion", async () => {
    const name = uniqueName("revoked-run");
    const leaseMs = 3000;
    const heartbeatMs = leaseMs / 3;
    const lock = newLock(name, { leaseMs });
    const committer = newCommitter();
    closers.push(
      () => committer.close(),
      () => lock.close(),
    );
    const ingestor = new SequenceIngestor({ name, delayMs: 2, concurrency: 4 });
    const writer = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest(name) });
    const events: Timed[] = [];
    const until = pointerFromNumber(400);
    const running = run({
      signal: AbortSignal.timeout(60_000),
      until,
      lock,
      committer,
      writer,
      ingestor,
      coalesce: false,
      lockRetryMs: 100,
      onEvent: (event) => events.push({ ...event, at: performance.now() }),
    });
    const committed = () => events.filter((event) => event.type === "committed");
    await expect.poll(() => committed().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(30);

    const revokedAt = performance.now();
    await revokeHolder(admin, lock);
    await expect.poll(() => events.filter((e) => e.type === "acquired").length, { timeout: 20_000 }).toBe(2);
    await running;

    const lost = events.find((event) => event.type === "lost");
    expect(lost, "a lost event").toBeDefined();
    expect((lost as Timed).at - revokedAt, "ms from the revocation to the lost event").toBeLessThanOrEqual(
      2 * heartbeatMs,
    );
    const reacquiredAt = (events.filter((e) => e.type === "acquired")[1] as Timed).at;
    const lateCommits = committed().filter(
      (event) => event.at > revokedAt + 2 * heartbeatMs && event.at < reacquiredAt,
    );
    expect(lateCommits, "commits of the revoked holding after two heartbeats").toEqual([]);

    // Every commit, before and after the revocation, continues the previous one, up to `until`.
    let parent = "null";
    for (const event of committed()) {
      if (event.type !== "committed") continue;
      expect(pointerToHex(event.parent)).toBe(parent);
      parent = pointerToHex(event.block);
    }
    expect(parent).toBe(pointerToHex(until));
    expect(pointerToHex(await committer.latest(name))).toBe(parent);
  });
});
