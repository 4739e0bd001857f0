import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

import { KinSolanaIngestor, kinHistoryCodec, slotFromPointer, solanaPointer } from "@tidemark/kin";
import { afterAll, beforeAll, expect, it } from "vitest";
import { backfillPlan } from "../src/backfill-plan.js";
import { openHistoryTarget } from "../src/stores/history-target.js";
import { openStore } from "../src/stores/open-store.js";
import { type BackfillChain, startBackfillChain } from "./backfill-chain.js";
import { runToEnd, workdir } from "./cli-process.js";

const dir = workdir();
let chain: BackfillChain;
beforeAll(async () => {
  chain = await startBackfillChain(40, { seed: "visibility" });
}, 60_000);
afterAll(async () => {
  await chain?.close();
});

it("shows a partition's blocks up to its own pointer only: written but uncommitted entries stay invisible", async () => {
  const url = `sqlite:${join(dir, "visibility.db")}`;
  const plan = backfillPlan("kin4", { from: chain.from, until: chain.until, partitionSize: 12n });
  const [first, second] = plan.partitions;
  if (first === undefined || second === undefined) throw new Error("the plan needs two partitions");
  // Every entry of the range is written, as partition runs that crashed before committing would leave them.
  const store = await openStore(url, {});
  try {
    const target = await openHistoryTarget(url, url, store);
    const history = target.open("history_KIN4", kinHistoryCodec);
    const controller = new AbortController();
    const queue = await new KinSolanaIngestor({ rpcUrl: chain.url, lastSlot: chain.until }).ingest(
      controller.signal,
      history,
      solanaPointer(chain.from),
    );
    for await (const result of queue) {
      if (slotFromPointer((await result).block) === chain.until) break;
    }
    controller.abort();
    await history.close();
    // The first partition is done, the second committed half way, the others nothing.
    const middle = [...chain.signatures.keys()].find((slot) => slot > second.after + 4n) as bigint;
    await store.committer.commit(first.ingestor, null, solanaPointer(first.through));
    await store.committer.commit(second.ingestor, null, solanaPointer(middle));

    const sqlite = new DatabaseSync(url.slice("sqlite:".length));
    const written = (sqlite.prepare("SELECT COUNT(*) AS n FROM tidemark_history").get() as { n: number }).n;
    sqlite.close();
    expect(written).toBe(chain.between(chain.from, chain.until).length);

    const read = (env: NodeJS.ProcessEnv) =>
      runToEnd(["history", "blocks", String(chain.from + 1n), String(chain.until), "--store", url, "--json"], dir, env);
    const shared = {
      TIDEMARK_BACKFILL: JSON.stringify({
        kin4: { from: Number(chain.from), until: Number(chain.until), partitionSize: 12 },
      }),
    };
    const withPlan = await read(shared);
    expect(withPlan.code, withPlan.stderr).toBe(0);
    const visible = withPlan.stdout.map((l) => l.txId as string).sort();
    expect(visible).toEqual(
      [...chain.between(first.after, first.through), ...chain.between(second.after, middle)].sort(),
    );
    expect(visible.length).toBeLessThan(written);
    // Without the plan only the live pointer counts, and it has committed nothing.
    const withoutPlan = await read({});
    expect(withoutPlan.code, withoutPlan.stderr).toBe(0);
    expect(withoutPlan.stdout).toEqual([]);
  } finally {
    await store.close();
  }
});
