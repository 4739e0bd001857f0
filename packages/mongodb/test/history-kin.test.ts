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
import type { Binary } from "mongodb";
import { afterAll, expect, it } from "vitest";
import { openClient } from "./support/clients.js";
import { historyStore } from "./support/history.js";

// Kin4 entries through agora's codec: real wire transactions (one SPL Token transfer each), agora's
// 9-byte slot pointers and 17-byte ordering keys, and agora's double-insert rules.
const client = openClient();
const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const store of opened) await store.close();
});

function kinStore() {
  const { store, ingestor, commit } = historyStore<Entry>(client, {
    codec: kinHistoryCodec,
    ingestor: uniqueName("history_KIN4"),
  });
  opened.push(store);
  return { store, ingestor, commit: (slot: bigint) => commit(solanaPointer(slot)) };
}

const bytes = (seed: string, length = 32) =>
  createHash("sha512").update(seed).digest().subarray(0, length) as Uint8Array;

/** A legacy Solana transaction: `owner` signs an SPL Token Transfer of `amount` from `source` to `destination`. */
function transfer(signature: string, source: string, destination: string, amount: bigint): Uint8Array {
  const data = new Uint8Array(9);
  data[0] = 3; // Transfer
  new DataView(data.buffer).setBigUint64(1, amount, true);
  return Uint8Array.from([
    1, // one signature
    ...bytes(`signature ${signature}`, 64),
    1, // header: one signer, no read-only signer, one read-only unsigned key (the program)
    0,
    1,
    4, // keys: owner, source, destination, token program
    ...bytes(`owner of ${source}`),
    ...bytes(source),
    ...bytes(destination),
    ...base58Decode(TOKEN_PROGRAM_ADDRESS),
    ...bytes("recent blockhash"),
    1, // one instruction
    3, // program: the token program
    3, // accounts: source, destination, owner
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
const byOrderingKey = (entries: readonly Entry[]) =>
  [...entries].sort((a, b) => Buffer.compare(orderingKey(a), orderingKey(b)));

it("stores Kin4 entries under agora's accounts, in slot order, visible up to the committed slot", async () => {
  const { store, commit } = kinStore();
  const entries = [
    entry(900n, "t1", "alice", "bob"),
    entry(900n, "t2", "bob", "carol"),
    entry(901n, "t3", "carol", "alice"),
    entry(1000n, "t4", "alice", "carol"),
    entry(1000n, "t5", "alice", "bob"),
  ];
  const [first] = entries as [Entry];
  const [alice, bob] = kinHistoryCodec.accounts(first);
  expect(alice, "agora lists the transfer's token accounts").toMatch(/^G[A-Z2-7]{55}$/);
  // Written out of order, as concurrent blocks are.
  await Promise.all([...entries].reverse().map((e) => store.write(e)));

  await commit(901n);
  const aliceUpTo901 = entries.slice(0, 3).filter((e) => kinHistoryCodec.accounts(e).includes(alice as string));
  expect(encoded(await store.getAccountHistory(alice as string))).toEqual(encoded(byOrderingKey(aliceUpTo901)));
  expect(await store.getTransaction(transactionId(entries[3] as Entry))).toBeNull();

  await commit(1000n);
  const aliceAll = byOrderingKey(entries.filter((e) => kinHistoryCodec.accounts(e).includes(alice as string)));
  expect(encoded(await store.getAccountHistory(alice as string))).toEqual(encoded(aliceAll));
  expect(encoded(await store.getAccountHistory(alice as string, { order: "desc" }))).toEqual(
    encoded([...aliceAll].reverse()),
  );
  const afterFirst = await store.getAccountHistory(alice as string, { cursor: orderingKey(aliceAll[0] as Entry) });
  expect(encoded(afterFirst)).toEqual(encoded(aliceAll.slice(1)));
  const bobAll = byOrderingKey(entries.filter((e) => kinHistoryCodec.accounts(e).includes(bob as string)));
  expect(encoded(await store.getAccountHistory(bob as string, { limit: 1 }))).toEqual(encoded(bobAll.slice(0, 1)));
  expect(encoded(await store.getBlockRange(solanaPointer(901n), solanaPointer(1000n)))).toEqual(
    encoded(byOrderingKey(entries.slice(2))),
  );
  for (const e of entries) expect(encoded([await store.getTransaction(transactionId(e))])).toEqual(encoded([e]));
});

it("replaces an unconfirmed entry with its confirmed rewrite, and keeps it when the unconfirmed one comes again", async () => {
  const { store, ingestor, commit } = kinStore();
  const confirmed = entry(700n, "confirm-me", "dave", "erin");
  const unconfirmed = entry(700n, "confirm-me", "dave", "erin");
  solanaBody(unconfirmed).confirmed = false;
  await store.write(unconfirmed);
  await store.write(confirmed);
  await commit(700n);
  expect(encoded([await store.getTransaction(transactionId(confirmed))])).toEqual(encoded([confirmed]));
  // Going back to unconfirmed contradicts agora's rules: refused, and the confirmed entry stays.
  const error = await store.write(unconfirmed).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTidemarkError(error, DoubleInsertError), String(error)).toBe(true);
  const [dave] = kinHistoryCodec.accounts(confirmed);
  expect(encoded(await store.getAccountHistory(dave as string))).toEqual(encoded([confirmed]));
  const documents = await client.db().collection("tidemark_history").countDocuments({ "_id.i": ingestor });
  expect(documents).toBe(1);
});

it("refuses a rewrite with other transaction bytes as DoubleInsertError, changing nothing", async () => {
  const { store, ingestor, commit } = kinStore();
  const original = entry(800n, "same-signature", "frank", "grace", 10n);
  // The same first signature (the transaction id), another amount and another destination.
  const forged = entry(800n, "same-signature", "frank", "mallory", 99n);
  expect(hex(transactionId(forged))).toBe(hex(transactionId(original)));
  await store.write(original);
  const error = await store.write(forged).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTidemarkError(error, DoubleInsertError), String(error)).toBe(true);
  expect(String(error)).toContain("different transaction bytes");
  await commit(800n);
  expect(encoded([await store.getTransaction(transactionId(original))])).toEqual(encoded([original]));
  const mallory = kinHistoryCodec
    .accounts(forged)
    .find((account) => !kinHistoryCodec.accounts(original).includes(account));
  expect(mallory).toBeDefined();
  expect(await store.getAccountHistory(mallory as string)).toEqual([]);
  const stored = (await client.db().collection("tidemark_history").findOne({ "_id.i": ingestor })) as {
    entry: Binary;
  } | null;
  expect(stored && hex(stored.entry.value())).toBe(hex(encodeEntry(original)));
});

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** A 32-byte Solana address from its base58 form. */
function base58Decode(text: string): Uint8Array {
  let value = 0n;
  for (const char of text) {
    const digit = BASE58.indexOf(char);
    if (digit < 0) throw new Error(`not base58: ${text}`);
    value = value * 58n + BigInt(digit);
  }
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}
