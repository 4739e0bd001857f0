import { MongoClient, type MongoClientOptions } from "mongodb";
import { afterAll, expect, inject } from "vitest";

const opened = new Set<MongoClient>();

/** A new client (its own connection pool) for `uri` (default: the suite's server), closed after the file. */
export function openClient(uri: string = inject("mongodbUri"), options: MongoClientOptions = {}): MongoClient {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ...options });
  opened.add(client);
  return client;
}

/** Closes a client early (as `destroy` hooks do). */
export async function closeClient(client: MongoClient): Promise<void> {
  opened.delete(client);
  await client.close();
}

// Registered first, so it runs after every other afterAll hook of the file (proxies, servers).
afterAll(async () => {
  const clients = [...opened];
  opened.clear();
  await Promise.all(clients.map((client) => client.close()));
  // Nothing the file opened may outlive it: no socket, server or child process (timers are checked by their owners).
  // Closed sockets release their handles a few ticks later: give them a moment.
  const openHandles = () =>
    process.getActiveResourcesInfo().filter((kind) => /^(TCP|Process|Pipe(Server|Connect))/.test(kind));
  for (let waited = 0; openHandles().length > 0 && waited < 3000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(openHandles(), "handles left open after the file closed its clients").toEqual([]);
});

/** The raw collection, for checking what is really stored and for planting bad documents. */
export function rawCollection(client: MongoClient, name: string) {
  return client.db().collection<{ _id: string | { tokenOf: string }; [field: string]: unknown }>(name);
}
