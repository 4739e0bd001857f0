import { uniqueName } from "@tidemark/conformance";
import { LockLostError, pointerFromNumber, type RunEvent, run, SequenceIngestor } from "@tidemark/core";
import type { Binary } from "mongodb";
import { expect, it } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { openClient, rawCollection } from "./support/clients.js";

const p = (n: number) => pointerFromNumber(n);

it("rejects the late fenced commit of a holder paused past its lease, before the new holder has committed", async () => {
  const key = uniqueName("fence-key");
  const ingestor = uniqueName("fence-ingestor");
  const lockOptions = { key, leaseMs: 1500, heartbeatMs: 400, pollMs: 100 };
  // The new holder must keep its lease through the whole test, even on a slow machine: a longer one.
  const newLockOptions = { key, leaseMs: 6000, heartbeatMs: 1000, pollMs: 100 };
  const raw = rawCollection(openClient(), "tidemark_commits");

  // The old holder commits block 1, then freezes (a GC pause, a stopped VM): no renewals, no self-expiry.
  const oldLock = new MongoLock({ client: openClient(), ...lockOptions });
  const oldCommitter = new MongoCommitter({ client: openClient() });
  const oldLease = await oldLock.lock(AbortSignal.timeout(10_000));
  await oldCommitter.fence(ingestor, oldLease);
  await oldCommitter.commit(ingestor, null, p(1), { lease: oldLease });
  oldLock.simulateCrash();

  // The new holder runs the real loop; its writer waits at the gate, so it has fenced but not committed.
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  let writing = () => {};
  const firstWrite = new Promise<void>((resolve) => (writing = resolve));
  const events: RunEvent[] = [];
  const newLock = new MongoLock({ client: openClient(), ...newLockOptions });
  const running = run({
    signal: AbortSignal.timeout(30_000),
    lock: newLock,
    committer: new MongoCommitter({ client: openClient() }),
    ingestor: new SequenceIngestor({ name: ingestor, concurrency: 1 }),
    writer: {
      write: async () => {
        writing();
        await gate;
      },
    },
    until: p(5),
    lockRetryMs: 100,
    onEvent: (event) => events.push(event),
  });
  await firstWrite;
  expect(events.map((event) => event.type)).toEqual(["acquired"]);

  const late = oldCommitter.commit(ingestor, p(1), p(2), { lease: oldLease });
  await expect(late, "the paused holder's late commit").rejects.toThrow(LockLostError);
  expect(oldLease.signal.aborted, "refused by the fence in the database, not by the paused holder itself").toBe(false);
  const stored = await raw.findOne({ _id: ingestor });
  const latest = stored?.latest as Binary;
  expect(Buffer.from(latest.value())).toEqual(Buffer.from(p(1)));
  expect(
    events.some((event) => event.type === "committed"),
    "the new holder had not committed yet",
  ).toBe(false);

  openGate();
  await running;
  const committed = events.flatMap((event) => (event.type === "committed" ? [event] : []));
  const story = events.map((event) =>
    event.type === "lost" ? `lost (${(event.reason as Error)?.message})` : event.type,
  );
  expect(committed[0]?.parent, `events: ${story.join(", ")}`).toEqual(p(1));
  expect(committed.at(-1)?.block).toEqual(p(5));
  await oldLock.unlock();
});
