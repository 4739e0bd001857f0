import {
  type Committer,
  comparePointers,
  InvalidArgumentError,
  InvalidCommitError,
  type Pointer,
  pointerFromNumber,
  pointerToHex,
} from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import { awkwardNameSuffixes, uniqueName } from "./names.js";
import type { CommitterSuiteOptions } from "./options.js";
import { Resources } from "./resources.js";

const p = (n: number) => pointerFromNumber(n);

/** Every committer group in one `describe`. */
export function describeCommitter(name: string, options: CommitterSuiteOptions): void {
  describe(`${name} committer`, () => {
    committerBasics(options);
    committerIsolation(options);
    committerRejections(options);
    committerPointers(options);
    committerConcurrency(options);
    committerReset(options);
    committerLifecycle(options);
    if (options.loseNextAnswer) committerAmbiguity(options);
  });
}

function setup(options: CommitterSuiteOptions) {
  const created = new Resources<Committer>(async (committer) => {
    await committer.close();
    await options.destroy?.(committer);
  });
  afterEach(() => created.closeAll());
  const create = async () => created.add(await options.create());
  /** Asserts both `latest` and, when available, the raw stored bytes. */
  const expectStored = async (committer: Committer, ingestor: string, expected: Pointer | null) => {
    const latest = await committer.latest(ingestor);
    expect(hexOrNull(latest), `latest("${ingestor}")`).toBe(hexOrNull(expected));
    if (options.readRaw) {
      const raw = await options.readRaw(ingestor);
      expect(hexOrNull(raw), `raw stored pointer of "${ingestor}"`).toBe(hexOrNull(expected));
    }
  };
  return { create, expectStored };
}

/** The original's happy path, unknown names, first commits and fresh instances. */
export function committerBasics(options: CommitterSuiteOptions): void {
  describe("basics", () => {
    const { create, expectStored } = setup(options);

    it("commits ten blocks in sequence, latest following each", async () => {
      const committer = await create();
      const ingestor = uniqueName("happy");
      await expectStored(committer, ingestor, null);
      let parent: Pointer | null = null;
      for (let n = 1; n <= 10; n++) {
        await committer.commit(ingestor, parent, p(n));
        await expectStored(committer, ingestor, p(n));
        parent = p(n);
      }
    });

    it("returns null as latest of an unknown name", async () => {
      const committer = await create();
      expect(await committer.latest(uniqueName("unknown"))).toBeNull();
    });

    it("accepts the first commit whatever its parent", async () => {
      const committer = await create();
      const ingestor = uniqueName("first");
      await committer.commit(ingestor, p(41), p(42));
      await expectStored(committer, ingestor, p(42));
    });

    it("lets a fresh instance see what an earlier one committed", async () => {
      const ingestor = uniqueName("fresh");
      const first = await create();
      await first.commit(ingestor, null, p(7));
      await first.close();
      const second = await create();
      await expectStored(second, ingestor, p(7));
      await second.commit(ingestor, p(7), p(8));
      await expectStored(second, ingestor, p(8));
    });

    it("returns a copy: mutating a returned or committed pointer changes nothing stored", async () => {
      const committer = await create();
      const ingestor = uniqueName("copy");
      const block = p(5);
      await committer.commit(ingestor, null, block);
      block.fill(0xee);
      const latest = (await committer.latest(ingestor)) as Pointer;
      latest.fill(0xaa);
      await expectStored(committer, ingestor, p(5));
    });
  });
}

/** Names that share prefixes or contain query syntax stay independent. */
export function committerIsolation(options: CommitterSuiteOptions): void {
  describe("isolation", () => {
    const { create, expectStored } = setup(options);

    it("keeps ingestor names with / . $ { } : and non-ASCII characters apart", async () => {
      const committer = await create();
      const base = uniqueName("iso");
      const names = awkwardNameSuffixes.map((suffix) => `${base}${suffix}`);
      for (const [i, ingestor] of names.entries()) await committer.commit(ingestor, null, p(100 + i));
      for (const [i, ingestor] of names.entries()) await expectStored(committer, ingestor, p(100 + i));
      await committer.commit(names[0] as string, p(100), p(200));
      for (const [i, ingestor] of names.entries()) await expectStored(committer, ingestor, p(i === 0 ? 200 : 100 + i));
    });
  });
}

/** Gap, backwards, stale and no-op commits, and structural mistakes. */
export function committerRejections(options: CommitterSuiteOptions): void {
  describe("rejections", () => {
    const { create, expectStored } = setup(options);

    it("rejects gap, backwards, stale and no-op commits, leaving the pointer unchanged", async () => {
      const committer = await create();
      const ingestor = uniqueName("reject");
      await committer.commit(ingestor, null, p(1));
      await committer.commit(ingestor, p(1), p(2));
      const attempts: [string, Pointer, Pointer][] = [
        ["gap (parent ahead of stored)", p(3), p(4)],
        ["backwards (block < parent)", p(2), p(1)],
        ["no-op (block = parent)", p(2), p(2)],
        ["stale parent", p(1), p(3)],
      ];
      for (const [what, parent, block] of attempts) {
        await expect(committer.commit(ingestor, parent, block), what).rejects.toBeInstanceOf(InvalidCommitError);
        await expectStored(committer, ingestor, p(2));
      }
    });

    it("rejects a backwards first commit before anything is stored", async () => {
      const committer = await create();
      const ingestor = uniqueName("backwards-first");
      await expect(committer.commit(ingestor, p(9), p(3))).rejects.toBeInstanceOf(InvalidCommitError);
      await expectStored(committer, ingestor, null);
    });

    it("rejects structural mistakes with InvalidArgumentError and writes nothing", async () => {
      const committer = await create();
      const ingestor = uniqueName("structural");
      const bad: [string, () => Promise<void>][] = [
        ["empty block", () => committer.commit(ingestor, null, new Uint8Array())],
        ["block not a Uint8Array", () => committer.commit(ingestor, null, [1, 2] as unknown as Pointer)],
        ["parent not a Uint8Array", () => committer.commit(ingestor, "01" as unknown as Pointer, p(2))],
        ["empty ingestor name", () => committer.commit("", null, p(1))],
      ];
      for (const [what, attempt] of bad) {
        await expect(attempt(), what).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      await expectStored(committer, ingestor, null);
    });
  });
}

/** Byte-exact storage of awkward pointers. */
export function committerPointers(options: CommitterSuiteOptions): void {
  describe("pointers", () => {
    const { create, expectStored } = setup(options);

    it("round-trips pointers of 1 to 64 bytes with 0x00, 0xff and prefix relations byte-exact", async () => {
      const committer = await create();
      const ingestor = uniqueName("bytes");
      const chain = increasingPointers();
      let parent: Pointer | null = null;
      for (const block of chain) {
        await committer.commit(ingestor, parent, block);
        await expectStored(committer, ingestor, block);
        parent = block;
      }
    });

    it("orders a shorter prefix first: [1] < [1,0]", async () => {
      const committer = await create();
      const ingestor = uniqueName("prefix");
      await committer.commit(ingestor, null, Uint8Array.of(1));
      await committer.commit(ingestor, Uint8Array.of(1), Uint8Array.of(1, 0));
      await expect(committer.commit(ingestor, Uint8Array.of(1, 0), Uint8Array.of(1))).rejects.toBeInstanceOf(
        InvalidCommitError,
      );
      await expectStored(committer, ingestor, Uint8Array.of(1, 0));
    });
  });
}

/** Compare-and-swap under contention. */
export function committerConcurrency(options: CommitterSuiteOptions): void {
  describe("concurrency", () => {
    const { create, expectStored } = setup(options);

    it("lets exactly one of 16 concurrent commits from the same parent win", async () => {
      const ingestor = uniqueName("race");
      const setupCommitter = await create();
      await setupCommitter.commit(ingestor, null, p(1000));
      const committers = await Promise.all(Array.from({ length: 4 }, () => create()));
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) => (committers[i % 4] as Committer).commit(ingestor, p(1000), p(1001 + i))),
      );
      const winners = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
      expect(winners, "winning commits").toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(InvalidCommitError);
      }
      await expectStored(setupCommitter, ingestor, p(1001 + (winners[0] as number)));
    });

    it("lets exactly one of 16 concurrent first commits win", async () => {
      const ingestor = uniqueName("race-first");
      const committers = await Promise.all(Array.from({ length: 4 }, () => create()));
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) => (committers[i % 4] as Committer).commit(ingestor, null, p(1 + i))),
      );
      const winners = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
      expect(winners, "winning first commits").toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(InvalidCommitError);
      }
      await expectStored(committers[0] as Committer, ingestor, p(1 + (winners[0] as number)));
    });
  });
}

/** The operator's repair tool. */
export function committerReset(options: CommitterSuiteOptions): void {
  describe("reset", () => {
    const { create, expectStored } = setup(options);

    it("replaces the pointer in either direction only when the stored one equals expected", async () => {
      const committer = await create();
      const ingestor = uniqueName("reset");
      await expect(committer.reset(ingestor, p(1), p(5))).rejects.toBeInstanceOf(InvalidCommitError);
      await expectStored(committer, ingestor, null);
      await committer.reset(ingestor, null, p(5));
      await expectStored(committer, ingestor, p(5));
      await expect(committer.reset(ingestor, null, p(6))).rejects.toBeInstanceOf(InvalidCommitError);
      await expect(committer.reset(ingestor, p(4), p(6))).rejects.toBeInstanceOf(InvalidCommitError);
      await expectStored(committer, ingestor, p(5));
      await committer.reset(ingestor, p(5), p(2));
      await expectStored(committer, ingestor, p(2));
      await committer.commit(ingestor, p(2), p(3));
      await expectStored(committer, ingestor, p(3));
    });
  });
}

/** `close()`: async and idempotent. */
export function committerLifecycle(options: CommitterSuiteOptions): void {
  describe("lifecycle", () => {
    const { create, expectStored } = setup(options);

    it("closes idempotently, keeping what was committed", async () => {
      const ingestor = uniqueName("close");
      const committer = await create();
      await committer.commit(ingestor, null, p(3));
      await committer.close();
      await committer.close();
      await expectStored(await create(), ingestor, p(3));
    });
  });
}

/** A commit the backend applied but whose answer was lost. */
export function committerAmbiguity(options: CommitterSuiteOptions): void {
  describe("ambiguity", () => {
    const { create, expectStored } = setup(options);

    it("settles a commit whose answer was lost: it resolves, and the pointer is the new block", async () => {
      const loseNextAnswer = options.loseNextAnswer as NonNullable<CommitterSuiteOptions["loseNextAnswer"]>;
      const committer = await create();
      const ingestor = uniqueName("ambiguous");
      await committer.commit(ingestor, null, p(1));
      const fired = await loseNextAnswer(committer, ingestor);
      // Applied but unacknowledged: reporting it failed would make `run` redo it and hit a conflict,
      // and reporting a conflict would throw away a holding that did nothing wrong.
      await committer.commit(ingestor, p(1), p(2));
      expect(fired(), "the commit's answer was lost on the way back").toBe(true);
      await expectStored(committer, ingestor, p(2));
      await committer.commit(ingestor, p(2), p(3));
      await expectStored(committer, ingestor, p(3));
    });
  });
}

/** A strictly increasing chain covering lengths 1..64, 0x00/0xff bytes and prefix pairs. */
function increasingPointers(): Pointer[] {
  const candidates: Pointer[] = [Uint8Array.of(0), Uint8Array.of(0, 0), Uint8Array.of(1), Uint8Array.of(1, 0)];
  for (let length = 1; length <= 64; length++) {
    const zeros = new Uint8Array(length);
    zeros[0] = 0x02;
    candidates.push(zeros);
    const mixed = Uint8Array.from({ length }, (_, i) => (i % 2 === 0 ? 0xff : 0x00));
    mixed[0] = 0x03;
    candidates.push(mixed);
  }
  candidates.push(new Uint8Array(64).fill(0xff));
  const sorted = candidates.sort(comparePointers);
  return sorted.filter((pointer, i) => i === 0 || comparePointers(sorted[i - 1] as Pointer, pointer) < 0);
}

function hexOrNull(pointer: Pointer | null): string {
  return pointer === null ? "null" : pointerToHex(pointer);
}
