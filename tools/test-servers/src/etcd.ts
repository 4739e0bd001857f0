import { type StopOptions, TestServer } from "./server.js";

export interface EtcdServerOptions {
  /** The etcd executable (default `$ETCD_BINARY`, else `etcd` on PATH). */
  readonly binary?: string;
  /** Extra command-line flags, e.g. `["--auto-compaction-retention=1"]`. */
  readonly args?: readonly string[];
  /** How long to wait for the server to answer, in ms (default 30 000). */
  readonly startTimeoutMs?: number;
}

/** A single-member etcd on free loopback ports with a temporary data directory. */
export interface EtcdTestServer extends AsyncDisposable {
  /** Client URLs, e.g. `["http://127.0.0.1:41234"]`. */
  readonly endpoints: readonly string[];
  readonly dataDir: string;
  readonly server: TestServer;
  /** Stops etcd (`SIGKILL` to simulate a crash) and keeps the data directory. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts etcd again on the same ports and data directory. */
  start(): Promise<void>;
  /** Stops etcd and removes the data directory. */
  close(): Promise<void>;
}

/**
 * Starts a real etcd (Debian package `etcd-server`) and waits until it is
 * healthy; throws with etcd's own output when it cannot start.
 */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdTestServer> {
  const binary = options.binary ?? process.env.ETCD_BINARY ?? "etcd";
  const server = await TestServer.start({
    name: "etcd",
    binary,
    installHint:
      "install it with `apt-get install -y etcd-server`, or point the tests at a cluster with ETCD_ENDPOINTS",
    ports: 2,
    // etcd reads every ETCD_* variable as a flag: ETCD_ENDPOINTS or ETCD_BINARY must not reach it.
    dropEnv: (name) => name.startsWith("ETCD_"),
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    args: ({ host, ports: [client, peer], dir }) => {
      const clientUrl = `http://${host}:${client}`;
      const peerUrl = `http://${host}:${peer}`;
      return [
        "--name=tidemark-test",
        `--data-dir=${dir}/data`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=tidemark-test=${peerUrl}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-outputs=stderr",
        ...(options.args ?? []),
      ];
    },
    ready: async ({ host, ports: [client] }, signal) => {
      const response = await fetch(`http://${host}:${client}/health`, { signal });
      if (!response.ok) return false;
      const body = (await response.json()) as { health?: unknown };
      return body.health === "true" || body.health === true;
    },
  });
  const [clientPort] = server.context.ports;
  return {
    endpoints: [`http://${server.context.host}:${clientPort}`],
    dataDir: `${server.context.dir}/data`,
    server,
    stop: (stopOptions) => server.stop(stopOptions),
    start: () => server.start(),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}
