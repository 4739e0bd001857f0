import type { Committer, DistributedLock } from "@tidemark/core";
import { InvalidConfigError } from "../config-error.js";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";
import { parseStoreUrl } from "./store-url.js";

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

/** The etcd3 hosts and credentials of an `etcd://` URL, its user name and password percent-decoded. */
export function parseEtcdUrl(url: string): { hosts: string[]; auth?: { username: string; password: string } } {
  const parsed = parseStoreUrl(url);
  if (parsed.hosts.length === 0 || !/^\/?$/.test(parsed.tail)) {
    throw new InvalidConfigError(
      "--store",
      `not an etcd URL: "${redactUrl(url)}" (${parsed.scheme}://[USER:PASSWORD@]HOST:PORT[,HOST:PORT], nothing after the hosts)`,
    );
  }
  const scheme = parsed.scheme === "etcds" ? "https" : "http";
  const hosts = parsed.hosts.map((host) => `${scheme}://${host}`);
  // etcd's users always have a password; a user name alone authenticates with an empty one.
  const auth = parsed.username === "" ? undefined : { username: parsed.username, password: parsed.password ?? "" };
  return { hosts, ...(auth ? { auth } : {}) };
}
