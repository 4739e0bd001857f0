import type { Committer, DistributedLock } from "@tidemark/core";
import { InvalidConfigError } from "../config-error.js";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";

interface EtcdModule {
  createEtcdClient(options: { hosts: string[]; auth?: { username: string; password: string } }): { close(): void };
  EtcdCommitter: new (options: { client: unknown }) => Committer;
  EtcdLock: new (options: {
    client: unknown;
    key: string;
    leaseMs?: number;
    owner?: string;
  }) => DistributedLock & {
    close(): Promise<void>;
  };
}

/** `etcd://[user:password@]host:port[,host:port…]` (or `etcds://` for TLS): commits and locks in etcd, via @tidemark/etcd. */
export async function openEtcdStore(url: string, options: StoreOptions): Promise<Store> {
  const label = redactUrl(url);
  const { hosts, auth } = parseEtcdUrl(url);
  // Only checked for: the adapter creates the client, but a missing etcd3 should be named as such.
  await importAdapter("etcd3", label);
  const etcd = await importAdapter<EtcdModule>("@tidemark/etcd", label);
  const client = etcd.createEtcdClient({ hosts, ...(auth ? { auth } : {}) });
  const committer = new etcd.EtcdCommitter({ client });
  const { createLock, closeLocks } = lockRegistry(
    options,
    (settings) =>
      new etcd.EtcdLock({
        client,
        ...settings,
      }),
  );
  return {
    label,
    committer,
    createLock,
    async close() {
      await closeLocks();
      await committer.close();
      client.close();
    },
  };
}

function parseEtcdUrl(url: string): { hosts: string[]; auth?: { username: string; password: string } } {
  const match = /^(etcds?):\/\/(?:([^:@/]+):([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!match)
    throw new InvalidConfigError("--store", `not an etcd URL: "${redactUrl(url)}" (etcd://HOST:PORT[,HOST:PORT])`);
  const scheme = match[1] === "etcds" ? "https" : "http";
  const hosts = (match[4] as string).split(",").map((host) => `${scheme}://${host}`);
  const auth = match[2]
    ? { username: decodeURIComponent(match[2]), password: decodeURIComponent(match[3] ?? "") }
    : undefined;
  return { hosts, ...(auth ? { auth } : {}) };
}
