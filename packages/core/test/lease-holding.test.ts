import { describe, expect, it } from "vitest";
import { LeaseHolding, LockLostError } from "../src/index.js";

const timing = { leaseMs: 600, heartbeatMs: 100, safetyMarginMs: 100 };

function lostAt(holding: LeaseHolding): Promise<number> {
  return new Promise((resolve) =>
    holding.lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
  );
}

describe("LeaseHolding", () => {
  it("keeps the lease while renewals are confirmed", async () => {
    let renewals = 0;
    const holding = new LeaseHolding({ label: "test lock", token: 1n, ...timing, renew: () => ++renewals > 0 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(holding.lease.signal.aborted).toBe(false);
    expect(renewals).toBeGreaterThanOrEqual(5);
    holding.release();
    expect(holding.lease.signal.reason).toBeInstanceOf(LockLostError);
    expect(String(holding.lease.signal.reason)).toContain("test lock released");
  });

  it("gives up before the lease could expire when renewals keep failing with an unknown outcome", async () => {
    const startedAt = performance.now();
    const holding = new LeaseHolding({
      label: "test lock",
      token: 1n,
      ...timing,
      renew: () => {
        throw new Error("backend timed out");
      },
    });
    const at = await lostAt(holding);
    expect(at - startedAt, "ms until the holder gave up").toBeGreaterThanOrEqual(
      timing.leaseMs - timing.safetyMarginMs - 20,
    );
    expect(at - startedAt, "never after the lease").toBeLessThan(timing.leaseMs);
    expect(String(holding.lease.signal.reason)).toContain("no confirmed renewal");
  });

  it("aborts at the first renewal that finds the record taken", async () => {
    const holding = new LeaseHolding({ label: "test lock", token: 1n, ...timing, renew: async () => false });
    await lostAt(holding);
    expect(String(holding.lease.signal.reason)).toContain("taken over or removed");
  });

  it("does nothing at all once frozen", async () => {
    let renewals = 0;
    const holding = new LeaseHolding({ label: "test lock", token: 1n, ...timing, renew: () => ++renewals > 0 });
    holding.freeze();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(renewals).toBe(0);
    expect(holding.lease.signal.aborted, "a frozen holder does not even notice its lease ran out").toBe(false);
  });
});
