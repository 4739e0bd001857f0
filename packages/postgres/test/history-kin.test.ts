// Kin4 entries through agora's codec, end to end: real wire transactions (one SPL Token transfer each),
// 9-byte slot pointers, 17-byte ordering keys, and agora's double-insert rules judging rewrites.
import { createHash } from "node:crypto";
import { uniqueName } from "@tidemark/conformance";
import { DoubleInsertError, isTidemarkError } from "@tidemark/core";
import {
  createSolanaEntry,
  type Entry,
  encodeEntry,
  kinHistoryCodec,
  orderingKey,
  solanaBody,
  solanaPointer,
  TOKEN_PROGRAM_ADDRESS,
  transactionId,
} from "@tidemark/kin";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { PostgresHistoryStore } from "../src/index.js";
import { COMMITS, commitPointer, createCommitTable, openPool, outcome, url } from "./history-support.js";

const pool = openPool();
beforeAll(() => createCommitTable(pool));
afterAll(() => pool.end());
const opened: PostgresHistoryStore<Entry>[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function kinStore() {
  const ingestor = uniqueName("history_KIN4");
  const store = new PostgresHistoryStore({
    connectionString: url,
    codec: kinHistoryCodec,
    ingestor,
    commitTable: COMMITS,
  });
  opened.push(store);
  return { store, ingestor, commit: (slot: bigint) => commitPointer(pool, ingestor, solanaPointer(slot)) };
}

const bytes = (seed: string, length = 32) => createHash("sha512").update(seed).digest().subarray(0, length);

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58Bytes(text: string): Uint8Array {
  let n = 0n;
  for (const char of text) n = n * 58n + BigInt(BASE58.indexOf(char));
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** A legacy wire transaction: the owner of `source` signs an SPL Token Transfer (3) of `amount` to `destination`. */
function transfer(signature: string, source: string, destination: string, amount: bigint): Uint8Array {
  const data = new Uint8Array(9);
  data[0] = 3;
  new DataView(data.buffer).setBigUint64(1, amount, true);
  return Uint8Array.from([
    1, // one signature: the transaction id
    ...bytes(`signature ${signature}`, 64),
    1, // header: one signer, no read-only signer, one read-only unsigned key (the program)
    0,
    1,
    4, // keys: owner, source, destination, token program
    ...bytes(`owner of ${source}`),
    ...bytes(source),
    ...bytes(destination),
    ...base58Bytes(TOKEN_PROGRAM_ADDRESS),
    ...bytes("recent blockhash"),
    1, // one instruction: the token program with source, destination, owner
    3,
    3,
    1,
    2,
    0,
    data.length,
    ...data,
  ]);
}

function entry(slot: bigint, signature: string, source: string, destination: string, amount = 10n): Entry {
  return createSolanaEntry({ slot, transaction: transfer(signature, source, destination, amount) });
}

const hex = (value: Uint8Array) => Buffer.from(value).toString("hex");
const encoded = (entries: readonly (Entry | null)[]) => entries.map((e) => (e === null ? null : hex(encodeEntry(e))));

/** What the tables hold for `ingestor`: each entry's bytes, and the accounts it is listed under. */
async function stored(ingestor: string) {
  const entries = await pool.query<{ entry: Buffer }>("SELECT entry FROM tidemark_history WHERE ingestor = $1", [
    ingestor,
  ]);
  const accounts = await pool.query<{ account: string }>(
    "SELECT account FROM tidemark_history_accounts WHERE ingestor = $1 ORDER BY account",
    [ingestor],
  );
  return { entries: entries.rows.map((row) => hex(row.entry)), accounts: accounts.rows.map((row) => row.account) };
}

it("stores Kin4 entries under agora's and Solana's accounts, by ordering key, visible up to the committed slot", async () => {
  const { store, commit } = kinStore();
  const entries = [
    entry(900n, "t1", "alice", "bob"),
    entry(900n, "t2", "bob", "carol"),
    entry(901n, "t3", "carol", "alice"),
    entry(1000n, "t4", "alice", "carol"),
  ];
  await Promise.all([...entries].reverse().map((e) => store.write(e)));
  const alice = kinHistoryCodec.accounts(entries[0] as Entry)[0] as string;
  expect(alice, "agora lists the token accounts as strkeys").toMatch(/^G[A-Z2-7]{55}$/);
  const listsAlice = (e: Entry) => kinHistoryCodec.accounts(e).includes(alice);
  const byKey = (list: Entry[]) => [...list].sort((a, b) => Buffer.compare(orderingKey(a), orderingKey(b)));

  await commit(901n);
  expect(encoded(await store.getAccountHistory(alice))).toEqual(encoded(byKey(entries.slice(0, 3).filter(listsAlice))));
  expect(await store.getTransaction(transactionId(entries[3] as Entry))).toBeNull();
  await commit(1000n);
  const all = byKey(entries.filter(listsAlice));
  expect(encoded(await store.getAccountHistory(alice, { order: "desc" }))).toEqual(encoded([...all].reverse()));
  expect(encoded(await store.getAccountHistory(alice, { cursor: orderingKey(all[0] as Entry) }))).toEqual(
    encoded(all.slice(1)),
  );
  expect(encoded(await store.getBlockRange(solanaPointer(901n), solanaPointer(1000n)))).toEqual(
    encoded(entries.slice(2)),
  );
  // The base58 owner of a transfer (a Solana user's own view) lists it too.
  const owner = kinHistoryCodec.accounts(entries[3] as Entry).find((account) => !account.startsWith("G"));
  expect(owner).toBeDefined();
  expect(encoded(await store.getAccountHistory(owner as string))).toContain(encoded([entries[3] as Entry])[0]);
});

it("replaces an unconfirmed entry with its confirmed rewrite; going back to unconfirmed is DoubleInsertError", async () => {
  const { store, ingestor, commit } = kinStore();
  const confirmed = entry(700n, "confirm-me", "dave", "erin");
  const unconfirmed = entry(700n, "confirm-me", "dave", "erin");
  solanaBody(unconfirmed).confirmed = false;
  expect(hex(encodeEntry(unconfirmed))).not.toBe(hex(encodeEntry(confirmed)));
  await store.write(unconfirmed);
  expect((await stored(ingestor)).entries).toEqual([hex(encodeEntry(unconfirmed))]);
  await store.write(confirmed);
  await commit(700n);
  expect(encoded([await store.getTransaction(transactionId(confirmed))])).toEqual(encoded([confirmed]));
  const after = await stored(ingestor);
  expect(after.entries).toEqual([hex(encodeEntry(confirmed))]);
  expect(after.accounts).toEqual([...kinHistoryCodec.accounts(confirmed)].sort());

  const error = (await outcome(store.write(unconfirmed))) as { error?: unknown };
  expect(isTidemarkError(error.error, DoubleInsertError), String(error.error)).toBe(true);
  expect(String(error.error)).toContain("confirmed transaction unconfirmed");
  expect(await stored(ingestor), "nothing changed").toEqual(after);
});

it("refuses a rewrite with other transaction bytes as DoubleInsertError, changing nothing", async () => {
  const { store, ingestor, commit } = kinStore();
  const original = entry(800n, "same-signature", "frank", "grace", 10n);
  // The same first signature (the transaction id), another amount and another destination.
  const forged = entry(800n, "same-signature", "frank", "mallory", 99n);
  expect(hex(transactionId(forged))).toBe(hex(transactionId(original)));
  await store.write(original);
  const before = await stored(ingestor);
  const error = (await outcome(store.write(forged))) as { error?: unknown };
  expect(isTidemarkError(error.error, DoubleInsertError), String(error.error)).toBe(true);
  expect(String(error.error)).toContain("different transaction bytes");
  expect(await stored(ingestor)).toEqual(before);
  await commit(800n);
  const mallory = kinHistoryCodec.accounts(forged).find((a) => !kinHistoryCodec.accounts(original).includes(a));
  expect(mallory).toBeDefined();
  expect(await store.getAccountHistory(mallory as string)).toEqual([]);
  expect(encoded([await store.getTransaction(transactionId(original))])).toEqual(encoded([original]));
});
