import { expect, it } from "vitest";
import { endpointRedactions, failureReason, redactEndpoint } from "../src/failure-reason.js";
import { RequestHealth } from "../src/request-health.js";

it("counts a request's failures in a row until that same request succeeds", () => {
  const health = new RequestHealth();
  health.failed("getBlock(1002)", "malformed", "garbage");
  health.failed("getBlock(1002)", "http", "HTTP 503");
  health.failed("getBlocksWithLimit(1000, 1024)", "invalid", "not ascending");
  // Another request succeeding ends nothing.
  health.succeeded("getBlock(1003)");
  expect(health.longest()).toMatchObject({ request: "getBlock(1002)", failures: 2, kind: "http", reason: "HTTP 503" });
  health.succeeded("getBlock(1002)");
  expect(health.longest()).toMatchObject({ request: "getBlocksWithLimit(1000, 1024)", failures: 1 });
  expect(health.longest((kind) => kind !== "invalid")).toBeNull();
  health.succeeded("getBlocksWithLimit(1000, 1024)");
  expect(health.longest()).toBeNull();
  expect(health.lastKind).toBe("invalid");
  // A new streak starts from one.
  expect(health.failed("getBlock(1002)", "timeout", "slow").failures).toBe(1);
});

it("remembers at most maxTracked requests, forgetting the one that failed longest ago, and forgets stale streaks", () => {
  let now = 0;
  const health = new RequestHealth({ maxTracked: 3, staleMs: 1000, now: () => now });
  for (let slot = 0; slot < 10_000; slot++) health.failed(`getBlock(${slot})`, "rpc", "skipped");
  expect(health.size).toBe(3);
  health.failed("getBlock(9998)", "rpc", "skipped");
  expect(health.longest()).toMatchObject({ request: "getBlock(9998)", failures: 2 });
  now = 900;
  health.failed("getSlot(finalized)", "network", "refused");
  now = 1500;
  // Only the request that failed within the last second is still failing.
  expect(health.size).toBe(1);
  expect(health.longest()?.request).toBe("getSlot(finalized)");
});

it("words a failure without the credentials of any configured URL", () => {
  const rpc = "https://user:pa55@rpc.example.com/v2/KEY123?api-key=QUERYKEY";
  expect(redactEndpoint(rpc)).toBe("https://***@rpc.example.com/…");
  expect(redactEndpoint("http://127.0.0.1:8899")).toBe("http://127.0.0.1:8899");
  const redactions = [
    ...endpointRedactions(rpc),
    { secret: "mongodb://admin:Sup3r%40S3cret@db:27017/x", shown: "mongodb://admin:***@db:27017/x" },
  ];
  const error = new Error(`Horizon ${rpc} GET /ledgers failed`, {
    cause: new Error("connect to mongodb://admin:Sup3r%40S3cret@db:27017/x refused; also see ftp://u:p@host/"),
  });
  const reason = failureReason(error, redactions);
  expect(reason).toBe(
    "Horizon https://***@rpc.example.com/… GET /ledgers failed (connect to mongodb://admin:***@db:27017/x refused; also see ftp://***@host/)",
  );
  for (const secret of ["pa55", "KEY123", "QUERYKEY", "Sup3r", "S3cret"]) expect(reason).not.toContain(secret);
  expect(failureReason(new Error("x".repeat(1000)), []).length).toBe(300);
  expect(failureReason({ message: "a\n  stream  event" }, [])).toBe("a stream event");
});
