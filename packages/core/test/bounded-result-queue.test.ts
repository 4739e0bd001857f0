import { describe, expect, it } from "vitest";
import { BoundedResultQueue, InvalidArgumentError, pointerFromNumber, type Result } from "../src/index.js";

const result = (n: number): Promise<Result> =>
  Promise.resolve({ parent: n === 1 ? null : pointerFromNumber(n - 1), block: pointerFromNumber(n) });

describe("BoundedResultQueue", () => {
  it("holds a producer back once `bound` results wait, and lets it go as the consumer takes them", async () => {
    const queue = new BoundedResultQueue({ bound: 3 });
    let pushed = 0;
    const producing = (async () => {
      for (let n = 1; n <= 10; n++) {
        await queue.push(result(n));
        pushed = n;
      }
      queue.end();
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(pushed).toBe(3);
    expect(queue.size).toBe(3);
    const blocks: number[] = [];
    for await (const promise of queue) {
      blocks.push(Number((await promise).block.at(-1)));
      expect(queue.size).toBeLessThanOrEqual(3);
    }
    await producing;
    expect(blocks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("hands out results unsettled, so a slow block does not hold back its successors' promises", async () => {
    const queue = new BoundedResultQueue();
    let release: (r: Result) => void = () => {};
    await queue.push(new Promise<Result>((r) => (release = r)));
    await queue.push(result(2));
    const iterator = queue[Symbol.asyncIterator]();
    const first = await iterator.next();
    const second = await iterator.next();
    expect(first.done).toBe(false);
    expect(second.done).toBe(false);
    release({ parent: null, block: pointerFromNumber(1) });
    expect((await (first.value as Promise<Result>)).block).toEqual(pointerFromNumber(1));
  });

  it("ends iteration and refuses pushes once aborted", async () => {
    const controller = new AbortController();
    const queue = new BoundedResultQueue({ bound: 1, signal: controller.signal });
    await queue.push(result(1));
    const blocked = queue.push(result(2));
    controller.abort();
    expect(await blocked).toBe(false);
    const iterator = queue[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(true);
  });

  it("delivers a failure after the buffered results", async () => {
    const queue = new BoundedResultQueue();
    await queue.push(result(1));
    queue.fail(new Error("stream broke"));
    const iterator = queue[Symbol.asyncIterator]();
    await expect((await iterator.next()).value).resolves.toBeDefined();
    await expect((await iterator.next()).value).rejects.toThrow("stream broke");
    expect((await iterator.next()).done).toBe(true);
  });

  it("rejects a bound that is not a positive integer", () => {
    expect(() => new BoundedResultQueue({ bound: 0 })).toThrow(InvalidArgumentError);
  });
});
