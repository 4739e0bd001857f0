import type { Etcd3, IOptions } from "etcd3";

/**
 * Where the etcd cluster is and how hard to try reaching it. Give exactly one
 * of `client` (share a connection you manage) or `connection` (let tidemark
 * open its own and close it in `close()`).
 */
export interface EtcdConnectionOptions {
  /**
   * An `etcd3` client to use; tidemark never closes it. Create it with
   * {@link createEtcdClient} so that no retries happen behind tidemark's back:
   * a commit retried inside the client could apply twice unnoticed, and
   * tidemark could no longer tell a retry from a conflict.
   */
  readonly client?: Etcd3;
  /**
   * Options for a client of tidemark's own (`hosts`, `auth`, `credentials`,
   * `grpcOptions`, ...), created with {@link createEtcdClient} and closed by
   * `close()`.
   */
  readonly connection?: IOptions;
  /**
   * How long one operation keeps retrying while etcd does not answer, in ms
   * (default 10 000). Past it the operation rejects: with `ConfigurationError`
   * when this client never reached etcd (a wrong endpoint, TLS setting or
   * firewall), otherwise with a plain `TidemarkError` that `run` retries (an
   * outage of a cluster that used to work).
   */
  readonly retryTimeoutMs?: number;
  /**
   * Deadline of one request, in ms (default 5000). It also bounds how long an
   * aborted commit waits for a request already sent: a commit that applied is
   * reported as applied, never as aborted.
   */
  readonly requestTimeoutMs?: number;
}

/** Options of {@link EtcdCommitter}. */
export interface EtcdCommitterOptions extends EtcdConnectionOptions {
  /**
   * Prefix of the commit keys (default `tidemark/commits/`). An ingestor's
   * pointer is stored under the prefix followed by its URI-encoded name, so
   * names containing `/` or any other character never share a key.
   */
  readonly prefix?: string;
}

/** Options of {@link EtcdLock}. */
export interface EtcdLockOptions extends EtcdConnectionOptions {
  /** The lock's name: every node that must exclude the others uses the same one (typically the ingestor's name). */
  readonly name: string;
  /**
   * Prefix of the lock keys (default `tidemark/locks/`). Each contender puts
   * `<prefix><URI-encoded name>/<lease id in hex>`; the key created first holds.
   */
  readonly prefix?: string;
  /**
   * Lease TTL, in whole seconds (default 10). A crashed holder's lock becomes
   * free this long after its last keep-alive. etcd may grant more than asked
   * (3.4 with default election settings grants at least 2 s); the granted TTL
   * is what the lock then works with.
   */
  readonly ttlSeconds?: number;
  /** Keep-alive period, in ms (default a third of the TTL). */
  readonly keepAliveMs?: number;
  /**
   * How long before its lease could expire the holder gives the lock up when
   * keep-alives fail, in ms (default a sixth of the TTL). It covers clock rate
   * differences and the time the holder needs to stop what it is doing.
   */
  readonly safetyMarginMs?: number;
  /** Stored as the value of this contender's key, so operators can see who holds the lock (default `<hostname>/<pid>/<random>`). */
  readonly owner?: string;
}
