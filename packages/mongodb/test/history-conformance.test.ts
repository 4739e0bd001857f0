import { describeHistoryStore } from "@tidemark/conformance";
import type { MongoClient } from "mongodb";
import { inject } from "vitest";
import { MongoCommitter, MongoHistoryStore } from "../src/index.js";
import { closeClient, openClient } from "./support/clients.js";

// The kit's history cases against the suite's server. Every store is a node of its own: its own client,
// reading the committed pointer through its own committer, as an application would.
const server = inject("mongodbServer");
const clients = new WeakMap<object, MongoClient>();
const operator = new MongoCommitter({ client: openClient() });

describeHistoryStore(`mongodb (${server})`, {
  create: ({ ingestor, codec }) => {
    const client = openClient();
    const committer = new MongoCommitter({ client });
    const store = new MongoHistoryStore({
      client,
      codec,
      ingestor,
      committed: (signal) => committer.latest(ingestor, { signal }),
    });
    clients.set(store, client);
    return store;
  },
  destroy: async (store) => {
    const client = clients.get(store);
    if (client) await closeClient(client);
  },
  commit: async (ingestor, block) => operator.reset(ingestor, await operator.latest(ingestor), block),
  // Well under MongoDB's 16 MiB document, yet several messages' worth of one entry on the wire.
  largestEntryBytes: 4 * 1024 * 1024,
  manyAccounts: 200,
});
