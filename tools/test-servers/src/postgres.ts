import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { chown, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type StopOptions, TestServer } from "./server.js";

const run = promisify(execFile);
const DEBIAN_ROOT = "/usr/lib/postgresql";
const INSTALL_HINT =
  "install it with `apt-get install -y postgresql`, or point the tests at a server with POSTGRES_URL";

export interface PostgresServerOptions {
  /** The directory holding `initdb`, `postgres` and `pg_isready` (default: the highest `/usr/lib/postgresql/<version>/bin`). */
  readonly binDir?: string;
  /** Extra server settings, e.g. `{ statement_timeout: "5s" }`, passed as `-c name=value`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for the server to answer, in ms (default 30 000). */
  readonly startTimeoutMs?: number;
}

/**
 * A PostgreSQL cluster of its own on a free loopback port with a temporary
 * data directory. TCP connections need the superuser's password
 * (`scram-sha-256`, a random one in `url`), so wrong credentials really fail;
 * the unix socket inside the directory trusts local users.
 */
export interface PostgresTestServer extends AsyncDisposable {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  readonly server: TestServer;
  /** The postmaster's pid while it runs. */
  readonly pid: number | null;
  /** A fast shutdown (`SIGINT` to the postmaster), or `SIGKILL` of the whole server (crash recovery on `start`); keeps the data. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes the data directory. */
  close(): Promise<void>;
}

/**
 * Starts Debian's PostgreSQL (package `postgresql`): `initdb`, then `postgres`
 * listening on 127.0.0.1 only. PostgreSQL refuses to run as root, so under
 * root both run as the `postgres` user, in a directory handed to that user.
 */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresTestServer> {
  const binDir = options.binDir ?? newestBinDir();
  for (const tool of ["initdb", "postgres", "pg_isready"]) {
    if (!existsSync(join(binDir, tool)))
      throw new Error(`cannot start postgres: no ${join(binDir, tool)}; ${INSTALL_HINT}`);
  }
  const user = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const password = randomBytes(12).toString("hex");
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    // Many small pools (one per lock in the kit, through proxies): more than the default 100.
    max_connections: "300",
    shared_buffers: "32MB",
    // A test server: a process crash keeps the OS cache, and the machine is not the thing under test.
    fsync: "off",
    ...options.settings,
  };
  const server = await TestServer.start({
    name: "postgres",
    binary: join(binDir, "postgres"),
    installHint: INSTALL_HINT,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    stopSignal: "SIGINT",
    ...(user === undefined ? {} : { user }),
    prepare: async (dir) => {
      if (user !== undefined) await chown(dir, user.uid, user.gid);
      const pwfile = join(dir, "pwfile");
      await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
      if (user !== undefined) await chown(pwfile, user.uid, user.gid);
      try {
        await run(
          join(binDir, "initdb"),
          [
            `--pgdata=${join(dir, "data")}`,
            "--username=postgres",
            `--pwfile=${pwfile}`,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
          ],
          { cwd: dir, ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } },
        );
      } catch (error) {
        const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string };
        throw new Error(`cannot start postgres: initdb failed: ${message}\n${stdout ?? ""}${stderr ?? ""}`, {
          cause: error,
        });
      } finally {
        await rm(pwfile, { force: true });
      }
    },
    args: ({ ports: [port], dir }) => [
      "-D",
      join(dir, "data"),
      "-p",
      String(port),
      "-k",
      dir,
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    // pg_isready exits 0 only once connections are accepted (not while starting up or recovering).
    ready: async ({ host, ports: [port] }, signal) => {
      try {
        await run(join(binDir, "pg_isready"), ["-h", host, "-p", String(port), "-t", "2"], { signal });
        return true;
      } catch {
        return false;
      }
    },
  });
  const [port] = server.context.ports as [number];
  const host = server.context.host;
  return {
    url: `postgres://postgres:${password}@${host}:${port}/postgres`,
    host,
    port,
    user: "postgres",
    password,
    dataDir: join(server.context.dir, "data"),
    server,
    get pid() {
      return server.pid;
    },
    stop: (stopOptions) => server.stop(stopOptions),
    start: () => server.start(),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** `/usr/lib/postgresql/<highest version>/bin`, or an error saying how to install it. */
function newestBinDir(): string {
  const versions = existsSync(DEBIAN_ROOT)
    ? readdirSync(DEBIAN_ROOT)
        .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(DEBIAN_ROOT, name, "bin", "postgres")))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  if (newest === undefined) {
    throw new Error(`cannot start postgres: no ${DEBIAN_ROOT}/<version>/bin/postgres; ${INSTALL_HINT}`);
  }
  return join(DEBIAN_ROOT, newest, "bin");
}

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch (error) {
    throw new Error(
      `cannot start postgres as root: there is no "${name}" user to run it as (Debian's postgresql package creates it)`,
      { cause: error },
    );
  }
}
