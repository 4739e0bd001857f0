import { execFile } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type StopOptions, TestServer } from "./server.js";

export interface MongoJavaServerOptions {
  /**
   * `memory` (the default) keeps everything in the JVM; `h2` stores it in an H2
   * file in the server's temporary directory, so `stop` + `start` is a restart
   * that keeps the data (and every acknowledged write: the launcher commits
   * the file before each reply).
   */
  readonly backend?: "memory" | "h2";
  /** The java executable (default `$JAVA`, else `java` on PATH). */
  readonly java?: string;
  /** How long to wait for the server to answer, in ms (default 60 000: the first run downloads the jars). */
  readonly startTimeoutMs?: number;
}

/** mongo-java-server 1.47.0 on a free loopback port. */
export interface MongoJavaTestServer extends AsyncDisposable {
  /** A connection string for the `mongodb` driver, e.g. `mongodb://127.0.0.1:41234/`. */
  readonly uri: string;
  readonly server: TestServer;
  /** Stops the server (`SIGKILL` to simulate a crash); an H2 file stays for `start`. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again on the same port (and H2 file). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

const INSTALL_SCRIPT = fileURLToPath(new URL("../scripts/install-mongo-java-server.sh", import.meta.url));
let classpath: Promise<string> | null = null;

/**
 * The classpath of mongo-java-server and tidemark's launcher, downloading the
 * jars from Maven Central on first use (`scripts/install-mongo-java-server.sh`,
 * which CI runs ahead of the tests).
 */
export function mongoJavaServerClasspath(): Promise<string> {
  classpath ??= promisify(execFile)("bash", [INSTALL_SCRIPT], { maxBuffer: 16 * 1024 * 1024 })
    .then(({ stdout }) => stdout.trim().split("\n").at(-1) ?? "")
    .catch((error: { stderr?: string; message: string }) => {
      classpath = null;
      throw new Error(
        `cannot install mongo-java-server (${INSTALL_SCRIPT}): ${error.message}${error.stderr ? `\n${error.stderr}` : ""}`,
      );
    });
  return classpath;
}

/**
 * Starts mongo-java-server (de.bwaldvogel, memory or H2 backend) on the
 * machine's Java 17+: it speaks the MongoDB wire protocol to the real driver
 * and applies each operation atomically per collection.
 */
export async function startMongoJavaServer(options: MongoJavaServerOptions = {}): Promise<MongoJavaTestServer> {
  const cp = await mongoJavaServerClasspath();
  const backend = options.backend ?? "memory";
  const server = await TestServer.start({
    name: `mongo-java-server (${backend})`,
    binary: options.java ?? process.env.JAVA ?? "java",
    installHint: "install Java 17+ and Maven, e.g. `apt-get install -y openjdk-17-jdk-headless maven`",
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    // A small serial heap: two cores are shared with the tests themselves.
    args: ({ host, ports: [port], dir }) => [
      "-XX:+UseSerialGC",
      "-Xmx512m",
      "-cp",
      cp,
      "TidemarkMongoServer",
      host,
      String(port),
      ...(backend === "h2" ? [`${dir}/mongo.h2`] : []),
    ],
    ready: ({ host, ports: [port] }, signal) => answers(host, port as number, signal),
  });
  const [port] = server.context.ports;
  return {
    uri: `mongodb://${server.context.host}:${port}/`,
    server,
    stop: (stopOptions) => server.stop(stopOptions),
    start: () => server.start(),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** True once the port accepts connections: the launcher binds only after the backend is open. */
function answers(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, signal });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
