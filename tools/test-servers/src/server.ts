import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

/** Where a server runs: loopback host, reserved ports and its own temporary directory. */
export interface ServerContext {
  readonly host: string;
  readonly ports: readonly number[];
  readonly dir: string;
}

/** How to run one kind of server. */
export interface ServerSpec {
  /** Names the server in errors, e.g. `etcd`. */
  readonly name: string;
  /** The executable, a path or a name on PATH. */
  readonly binary: string;
  /** Shown when the binary is missing, e.g. `apt-get install -y etcd-server`. */
  readonly installHint?: string;
  /** Free loopback ports to reserve (default 1). */
  readonly ports?: number;
  /** Command-line arguments for the reserved ports and directory. */
  readonly args: (context: ServerContext) => readonly string[];
  /** Extra environment; the parent's is inherited minus `dropEnv`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment variables the server must not inherit (e.g. ones it reads as flags). */
  readonly dropEnv?: (name: string) => boolean;
  /** Resolves true once the server answers; called every 100 ms until it does. */
  readonly ready: (context: ServerContext, signal: AbortSignal) => Promise<boolean>;
  /** How long to wait for `ready`, in ms (default 30 000). */
  readonly startTimeoutMs?: number;
  /** How long a graceful stop may take before the group is killed, in ms (default 10 000). */
  readonly stopTimeoutMs?: number;
  /**
   * The signal of a graceful stop, sent to the server process alone when set
   * (default: `SIGTERM` to the whole group). For servers whose leader shuts
   * its children down itself: PostgreSQL's fast shutdown is `SIGINT` to the postmaster.
   */
  readonly stopSignal?: NodeJS.Signals;
  /** Runs once in the new directory before the first start (e.g. `initdb`). */
  readonly prepare?: (dir: string) => Promise<void>;
  /** Runs the server as this user (needs root), e.g. servers that refuse to run as root. */
  readonly user?: { readonly uid: number; readonly gid: number };
}

export interface StopOptions {
  /** `SIGTERM` (the default) stops gracefully; `SIGKILL` simulates a crash. */
  readonly signal?: "SIGTERM" | "SIGKILL";
}

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

const OUTPUT_LIMIT = 64 * 1024;
const running = new Set<TestServer>();
let hooksInstalled = false;

/**
 * A real server binary running on free loopback ports with a temporary
 * directory, in its own process group so stopping it also stops anything it
 * spawned. `stop` keeps the directory so `start` can bring the same server back
 * (a restart); `close` stops it and removes the directory.
 */
export class TestServer implements AsyncDisposable {
  readonly spec: ServerSpec;
  readonly context: ServerContext;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #output = "";

  private constructor(spec: ServerSpec, context: ServerContext) {
    this.spec = spec;
    this.context = context;
  }

  /** Reserves ports and a directory, starts the server and waits until it answers; throws with its output if it cannot. */
  static async start(spec: ServerSpec): Promise<TestServer> {
    const dir = await mkdtemp(join(tmpdir(), `tidemark-${spec.name}-`));
    try {
      await spec.prepare?.(dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    let lastError: unknown;
    // Another process may grab a reserved port before the server binds it: try fresh ports a few times.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const ports = await freePorts(spec.ports ?? 1);
      const server = new TestServer(spec, { host: "127.0.0.1", ports, dir });
      try {
        await server.start();
        return server;
      } catch (error) {
        lastError = error;
        if (!/address already in use/i.test(server.output())) break;
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** The server's recent stdout and stderr (the last 64 KiB). */
  output(): string {
    return this.#output;
  }

  /** Starts the process (again) on the same ports and directory and waits until it answers. */
  async start(): Promise<void> {
    if (this.#child !== null) throw new Error(`${this.spec.name} is already running (pid ${this.#child.pid})`);
    const { spec, context } = this;
    installExitHooks();
    const child = spawn(spec.binary, [...spec.args(context)], {
      cwd: context.dir,
      detached: true,
      env: { ...inheritedEnv(spec.dropEnv), ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(spec.user === undefined ? {} : { uid: spec.user.uid, gid: spec.user.gid }),
    });
    this.#child = child;
    running.add(this);
    const append = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    // A holder object: the callbacks set it, and TypeScript does not narrow a property to null for good.
    const state: { exit: ExitInfo | null } = { exit: null };
    this.#exited = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        state.exit = { code: null, signal: null, error };
        this.#forget(child);
        resolve();
      });
      child.once("close", (code, signal) => {
        state.exit ??= { code, signal };
        this.#forget(child);
        resolve();
      });
    });

    const timeoutMs = spec.startTimeoutMs ?? 30_000;
    const deadline = performance.now() + timeoutMs;
    while (true) {
      if (state.exit !== null) throw this.#startFailure(state.exit);
      const probe = AbortSignal.timeout(Math.round(Math.max(100, Math.min(2000, deadline - performance.now()))));
      if (await spec.ready(context, probe).catch(() => false)) {
        if (state.exit !== null) throw this.#startFailure(state.exit);
        return;
      }
      if (performance.now() >= deadline) {
        await this.stop({ signal: "SIGKILL" });
        throw new Error(
          `${spec.name} (${spec.binary}) did not answer within ${timeoutMs} ms on ${context.host}:${context.ports.join(",")}` +
            tail(this.#output),
        );
      }
      await delay(100);
    }
  }

  /** Stops the process group and waits for it to exit; keeps the directory. */
  async stop(options: StopOptions = {}): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const signal = options.signal ?? "SIGTERM";
    if (signal === "SIGTERM" && this.spec.stopSignal !== undefined) killLeader(child, this.spec.stopSignal);
    else killGroup(child, signal);
    const timeoutMs = this.spec.stopTimeoutMs ?? 10_000;
    const timer = new AbortController();
    const stopped = await Promise.race([
      this.#exited.then(() => true),
      delay(timeoutMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!stopped) {
      killGroup(child, "SIGKILL");
      await this.#exited;
    }
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    await rm(this.context.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #forget(child: ChildProcess): void {
    if (this.#child === child) this.#child = null;
    running.delete(this);
  }

  #startFailure(exit: ExitInfo): Error {
    const { spec, context } = this;
    if ((exit.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      const hint = spec.installHint ? ` (${spec.installHint})` : "";
      return new Error(`cannot start ${spec.name}: binary "${spec.binary}" not found${hint}`, { cause: exit.error });
    }
    const how = exit.error ? exit.error.message : exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    return new Error(
      `${spec.name} (${spec.binary}) exited with ${how} before answering on ${context.host}:${context.ports.join(",")}` +
        tail(this.#output),
      exit.error ? { cause: exit.error } : undefined,
    );
  }
}

/** Reserves `count` distinct free TCP ports on the loopback interface. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("unexpected server address");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function killLeader(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // Already gone.
  }
}

function inheritedEnv(drop: ((name: string) => boolean) | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !drop?.(name)) env[name] = value;
  }
  return env;
}

/** The start and the end of a server's output: flag errors come first, fatal log lines last. */
function tail(output: string): string {
  const lines = output.trimEnd().split("\n");
  if (lines.length === 1 && lines[0] === "") return "; it printed nothing";
  const shown = lines.length <= 40 ? lines : [...lines.slice(0, 8), "[...]", ...lines.slice(-30)];
  return `; its output:\n${shown.join("\n")}`;
}

/** Detached servers survive their parent: kill them when the parent exits or is told to stop. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const server of running) {
      const pid = server.pid;
      if (pid !== null) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
  };
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAll();
      // Keep the default behaviour (exit) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}
