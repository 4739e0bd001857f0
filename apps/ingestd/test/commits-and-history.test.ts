import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteLock } from "@tidemark/sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();
const db = join(dir, "ingested.db");
const store = `sqlite:${db}`;
let lastBlock: bigint;

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: {},
    signal: new AbortController().signal,
  });
  return { code, out, err: err.join("\n") };
}

beforeAll(async () => {
  const demo = new Cli(["run", "--demo", "--store", store, "--log-level", "debug", "--status", "off"], { cwd: dir });
  await demo.waitFor((line) => committed(line) && demo.lines.filter(committed).length >= 4);
  demo.child.kill("SIGTERM");
  await demo.exited;
  lastBlock = BigInt(demo.lines.filter(committed).at(-1)?.block as string);
}, 60_000);

describe("tidemark commits", () => {
  it("lists every chain's pointer decoded, and the lock holder", async () => {
    const list = await cli("commits", "list", "--store", store, "--json");
    expect(list.code).toBe(0);
    const kin4 = list.out.map((l) => JSON.parse(l)).find((r) => r.chain === "kin4");
    expect(kin4).toMatchObject({
      ingestor: "history_KIN4",
      version: "KIN4",
      unit: "slot",
      block: lastBlock.toString(),
    });
    expect(kin4.pointer).toMatch(/^04[0-9a-f]{16}$/);
    const status = await cli("commits", "status", "--store", store);
    expect(status.out.join("\n")).toMatch(/kin4\s+\d+\s+ingestor_history_kin4\s+\(free\)/);
  });

  it("sets a pointer only with --force, printing old and new, and never while another node holds the lock", async () => {
    const target = (lastBlock - 2n).toString();
    const holder = new SqliteLock({ path: db, key: "ingestor_history_kin4", owner: "other-node" });
    try {
      await holder.lock(AbortSignal.timeout(5000));
      const refused = await cli("commits", "set", "kin4", target, "--force", "--store", store);
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(/lock "ingestor_history_kin4" is held by other-node:/);
    } finally {
      await holder.unlock();
      await holder.close();
    }
    const set = await cli("commits", "set", "kin4", target, "--force", "--store", store);
    expect(set.code).toBe(0);
    expect(set.out[0]).toContain(`history_KIN4: old slot ${lastBlock}`);
    expect(set.out[1]).toContain(`history_KIN4: new slot ${target}`);
    const get = await cli("commits", "get", "kin4", "--store", store, "--json");
    expect(JSON.parse(get.out[0] as string).block).toBe(target);
    // Put it back so the history checks below see everything.
    expect((await cli("commits", "set", "kin4", lastBlock.toString(), "--force", "--store", store)).code).toBe(0);
  });
});

describe("tidemark history", () => {
  it("prints committed transactions as JSON lines with stable field names, and finds them by id and account", async () => {
    const blocks = await cli("history", "blocks", "0", lastBlock.toString(), "--store", store, "--json");
    expect(blocks.code).toBe(0);
    const views = blocks.out.map((line) => JSON.parse(line));
    expect(views.length).toBeGreaterThan(0);
    for (const view of views) {
      expect(Object.keys(view).sort()).toEqual([
        "blockTime",
        "slot",
        "transaction",
        "transactionError",
        "txId",
        "version",
      ]);
      expect(view.version).toBe("KIN4");
      expect(BigInt(view.slot)).toBeLessThanOrEqual(lastBlock);
    }
    const one = views[0];
    const byId = await cli("history", "tx", one.txId, "--store", store, "--json");
    expect(JSON.parse(byId.out[0] as string)).toEqual(one);

    const sqlite = new DatabaseSync(db);
    const { account } = sqlite.prepare("SELECT account FROM tidemark_history_accounts LIMIT 1").get() as {
      account: string;
    };
    sqlite.close();
    const byAccount = await cli("history", "account", account, "--store", store, "--json", "--limit", "5");
    expect(byAccount.code).toBe(0);
    expect(byAccount.out.length).toBeGreaterThan(0);
    const table = await cli("history", "account", account, "--store", store, "--order", "desc");
    expect(table.out[0]).toMatch(/^block\s+txId/);
  });

  it("reports a transaction that is not there, and a malformed id", async () => {
    const missing = await cli("history", "tx", "1".repeat(64), "--store", store);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no committed kin4 transaction/);
    const malformed = await cli("history", "tx", "0xnope", "--store", store);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(/base58 signature of 64 bytes/);
  });
});
