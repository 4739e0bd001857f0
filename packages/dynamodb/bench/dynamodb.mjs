// Throughput and takeover latency against a real DynamoDB Local (started here, or DYNAMODB_ENDPOINT),
// with every comparison measured side by side in this one run: the committer beside the raw SDK call
// it wraps, alternating call by call so drift in the server or the machine hits both alike. Runs against the built dist.
import { randomBytes } from "node:crypto";
import { DynamoDBClient, TransactWriteItemsCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { pointerFromNumber, run, SequenceIngestor } from "@tidemark/core";
import { createTables, DynamoDbCommitter, DynamoDbLock } from "@tidemark/dynamodb";
import { startDynamoDbLocal } from "@tidemark/test-servers";

const COMMITS = 1500;

const local = process.env.DYNAMODB_ENDPOINT ? null : await startDynamoDbLocal();
const endpoint = process.env.DYNAMODB_ENDPOINT ?? local.endpoint;
const clientConfig = local
  ? { endpoint, region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } }
  : { endpoint };
const client = new DynamoDBClient(clientConfig);
const suffix = randomBytes(4).toString("hex");
const tables = { commits: `bench-commits-${suffix}`, locks: `bench-locks-${suffix}` };

try {
  await createTables(client, { commitsTable: tables.commits, locksTable: tables.locks });
  const committer = new DynamoDbCommitter({ client, table: tables.commits });

  // 1. Unfenced commits: DynamoDbCommitter.commit beside agora's UpdateItem sent by hand.
  const rawUpdate = (ingestor, parent, block) =>
    client.send(
      new UpdateItemCommand({
        TableName: tables.commits,
        Key: { ingestor: { S: ingestor } },
        UpdateExpression: "SET latest = :block",
        ConditionExpression: "attribute_not_exists(latest) or (latest = :parent and latest < :block)",
        ExpressionAttributeValues: { ":parent": { B: parent ?? new Uint8Array(0) }, ":block": { B: block } },
      }),
    );
  const plain = await sideBySide(
    (ingestor, parent, block) => rawUpdate(ingestor, parent, block),
    (ingestor, parent, block) => committer.commit(ingestor, parent, block),
  );

  // 2. Fenced commits: the committer with a held lease beside the same TransactWriteItems sent by hand.
  const lock = new DynamoDbLock({ client, key: `bench-${suffix}`, table: tables.locks, heartbeatMs: 10_000 });
  const lease = await lock.lock(AbortSignal.timeout(30_000));
  const rawTransaction = (ingestor, parent, block) =>
    client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: tables.locks,
              Key: { key: { S: lease.key } },
              ConditionExpression: "#on = :on AND attribute_not_exists(#ir)",
              ExpressionAttributeNames: { "#on": "ownerName", "#ir": "isReleased" },
              ExpressionAttributeValues: { ":on": { S: lease.owner } },
            },
          },
          {
            Update: {
              TableName: tables.commits,
              Key: { ingestor: { S: ingestor } },
              UpdateExpression: "SET latest = :block",
              ConditionExpression: "attribute_not_exists(latest) or (latest = :parent and latest < :block)",
              ExpressionAttributeValues: { ":parent": { B: parent ?? new Uint8Array(0) }, ":block": { B: block } },
            },
          },
        ],
      }),
    );
  const fenced = await sideBySide(
    (ingestor, parent, block) => rawTransaction(ingestor, parent, block),
    (ingestor, parent, block) => committer.commit(ingestor, parent, block, { lease }),
  );
  await lock.close();

  // 3. Blocks per second through `run`, one commit per block and then coalesced.
  const runOff = await blocksPerSecond(1500, false);
  const runOn = await blocksPerSecond(30_000, true);

  // 4. From a holder's crash to a waiting contender's acquisition, 3 s lease (1 s heartbeat).
  const takeovers = [];
  for (let i = 0; i < 5; i++) takeovers.push(await crashToAcquisition(i));
  const fromCrash = takeovers.map((t) => t.fromCrash).sort((a, b) => a - b);
  const fromRenewal = takeovers.map((t) => t.fromRenewal).sort((a, b) => a - b);

  const fmt = (n) => n.toFixed(0);
  console.log(`raw_update_item: ${fmt(plain.raw)} commits/s`);
  console.log(`committer_commit: ${fmt(plain.ours)} commits/s`);
  console.log(`committer_vs_raw_update_item: ${(plain.ours / plain.raw).toFixed(2)} ratio (target >= 0.9)`);
  console.log(`raw_transact_write_items: ${fmt(fenced.raw)} commits/s`);
  console.log(`committer_fenced_commit: ${fmt(fenced.ours)} commits/s`);
  console.log(
    `fenced_commit_vs_raw_transact_write_items: ${(fenced.ours / fenced.raw).toFixed(2)} ratio (target >= 0.9)`,
  );
  console.log(`run_coalescing_off: ${fmt(runOff.rate)} blocks/s (${runOff.writes} commits for 1500 blocks)`);
  console.log(`run_coalescing_on: ${fmt(runOn.rate)} blocks/s (${runOn.writes} commits for 30000 blocks)`);
  console.log(`crash_to_acquisition_3s_lease_median: ${fmt(fromCrash[2])} ms (target <= 4000: lease + one heartbeat)`);
  console.log(`crash_to_acquisition_3s_lease_max: ${fmt(fromCrash[4])} ms (5 crashes)`);
  console.log(`last_renewal_to_acquisition_3s_lease_min: ${fmt(fromRenewal[0])} ms (never below the lease)`);
  console.log(`last_renewal_to_acquisition_3s_lease_max: ${fmt(fromRenewal[4])} ms`);
} finally {
  client.destroy();
  await local?.close();
}

/**
 * Commits per second of `raw` and `ours`, each advancing its own chain. The two alternate call by
 * call (which goes first alternates too), so load from anything else on the machine hits both alike.
 */
async function sideBySide(raw, ours) {
  const chains = {
    raw: { name: `raw-${randomBytes(4).toString("hex")}`, n: 0 },
    ours: { name: `ours-${randomBytes(4).toString("hex")}`, n: 0 },
  };
  const commit = { raw, ours };
  const elapsed = { raw: 0, ours: 0 };
  // Warm-up, not counted: JIT and connection setup.
  for (const which of ["raw", "ours"]) await commitMany(commit[which], chains[which], 100);
  for (let i = 0; i < COMMITS; i++) {
    for (const which of i % 2 === 0 ? ["raw", "ours"] : ["ours", "raw"]) {
      const started = performance.now();
      await commitMany(commit[which], chains[which], 1);
      elapsed[which] += performance.now() - started;
    }
  }
  return { raw: COMMITS / (elapsed.raw / 1000), ours: COMMITS / (elapsed.ours / 1000) };
}

async function commitMany(commit, chain, count) {
  for (let i = 0; i < count; i++) {
    const parent = chain.n === 0 ? null : pointerFromNumber(chain.n);
    chain.n++;
    await commit(chain.name, parent, pointerFromNumber(chain.n));
  }
}

async function blocksPerSecond(blocks, coalesce) {
  const ingestor = `run-${coalesce ? "on" : "off"}-${randomBytes(4).toString("hex")}`;
  let writes = 0;
  const started = performance.now();
  await run({
    signal: AbortSignal.timeout(300_000),
    lock: new DynamoDbLock({ client, key: ingestor, table: tables.locks }),
    committer: new DynamoDbCommitter({ client, table: tables.commits }),
    writer: { write: async () => {} },
    ingestor: new SequenceIngestor({ name: ingestor, concurrency: 8, entriesPerBlock: 0 }),
    until: pointerFromNumber(blocks),
    coalesce,
    onEvent: (event) => {
      if (event.type === "committed") writes++;
    },
  });
  return { rate: blocks / ((performance.now() - started) / 1000), writes };
}

async function crashToAcquisition(i) {
  const key = `takeover-${i}-${randomBytes(4).toString("hex")}`;
  const options = { client, key, table: tables.locks, heartbeatMs: 1000, leaseMs: 3000 };
  const holder = new DynamoDbLock(options);
  const contender = new DynamoDbLock(options);
  await holder.lock(AbortSignal.timeout(30_000));
  const waiting = contender.lock(AbortSignal.timeout(60_000));
  // Crash at a random point of the heartbeat cycle.
  await new Promise((resolve) => setTimeout(resolve, 1500 + Math.random() * 1000));
  holder.simulateCrash();
  const crashedAt = performance.now();
  const lastRenewal = holder.lastRenewedAt;
  await waiting;
  const acquiredAt = performance.now();
  await contender.close();
  // The frozen holder's record was taken over already: its conditional release changes nothing.
  await holder.close();
  return { fromCrash: acquiredAt - crashedAt, fromRenewal: acquiredAt - lastRenewal };
}
