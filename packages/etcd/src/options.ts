import type { LeaseLockOptions } from "@tidemark/core";
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
   * (default 10 000). Past it the operation rejects with
   * `BackendUnavailableError`, which `run` retries: an etcd that is down or
   * still starting is an outage, not a configuration mistake. Wrong
   * credentials, missing permissions and a TLS setting the server does not
   * speak are a `ConfigurationError` at once.
   */
  readonly retryTimeoutMs?: number;
}

/** Options of {@link EtcdCommitter}. */
export interface EtcdCommitterOptions extends EtcdConnectionOptions {
  /**
   * Prefix of the commit keys (default `tidemark/commits/`). An ingestor's
   * pointer is stored under the prefix followed by its URI-encoded name, so
   * names containing `/` or any other character never share a key.
   */
  readonly prefix?: string;
  /**
   * Deadline of one request, in ms (default 5000). It also bounds how long an
   * aborted commit waits for a request already sent: a commit that applied is
   * reported as applied, never as aborted.
   */
  readonly requestTimeoutMs?: number;
}

/**
 * Options of {@link EtcdLock}: the lease options every tidemark lock takes,
 * plus the connection and the key prefix. etcd grants leases in whole
 * seconds: the lease asked for is `leaseMs` rounded up to a second, and etcd
 * may grant more (3.4 grants at least 2 s with its default election timeout);
 * the holder still gives up after `leaseMs - safetyMarginMs`, so a longer
 * grant only makes contenders wait longer. `pollMs` is absent: waiters watch
 * the key ahead of theirs instead of polling.
 */
export interface EtcdLockOptions extends Omit<LeaseLockOptions, "pollMs">, EtcdConnectionOptions {
  /**
   * Prefix of the lock keys (default `tidemark/locks/`). Each contender puts
   * `<prefix><URI-encoded key>/<lease id in hex>`; the key created first holds.
   */
  readonly prefix?: string;
}
