import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresTestServer, startPostgres } from "../src/index.js";

const run = promisify(execFile);

/** psql of the same installation, over TCP with the given password: the path a driver takes. */
async function sql(server: PostgresTestServer, query: string, password = server.password): Promise<string> {
  const binDir = join(
    "/usr/lib/postgresql",
    readdirSync("/usr/lib/postgresql")
      .filter((v) => existsSync(join("/usr/lib/postgresql", v, "bin", "psql")))
      .sort((a, b) => Number(a) - Number(b))
      .at(-1) ?? "",
    "bin",
  );
  const { stdout } = await run(
    join(binDir, "psql"),
    ["-h", server.host, "-p", String(server.port), "-U", server.user, "-d", "postgres", "-tAX", "-c", query],
    { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } },
  );
  return stdout.trim();
}

let server: PostgresTestServer;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(() => server?.close());

describe("startPostgres", () => {
  it("serves on loopback with a password, and refuses a wrong one", async () => {
    expect(server.url).toBe(`postgres://postgres:${server.password}@127.0.0.1:${server.port}/postgres`);
    expect(await sql(server, "SHOW listen_addresses")).toBe("127.0.0.1");
    await expect(sql(server, "SELECT 1", "wrong")).rejects.toThrow(/password authentication failed/);
    const postmaster = Number(
      await sql(server, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"),
    );
    expect(server.pid).toBeGreaterThan(0);
    expect(postmaster).not.toBe(server.pid);
    // The checkpointer is a child of the postmaster: server.pid is the postmaster itself, not a wrapper.
    const stat = await run("ps", ["-o", "ppid=", "-p", String(postmaster)]);
    expect(Number(stat.stdout.trim())).toBe(server.pid);
  });

  it("keeps its data over a fast shutdown and over SIGKILL with crash recovery", async () => {
    await sql(server, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)");
    const first = server.pid;
    await server.stop();
    expect(server.pid).toBeNull();
    expect(server.server.output()).toMatch(/received fast shutdown request/);
    await expect(sql(server, "SELECT 1")).rejects.toThrow();
    await server.start();
    expect(server.pid).not.toBe(first);
    await sql(server, "INSERT INTO kept VALUES (2)");

    await server.stop({ signal: "SIGKILL" });
    await server.start();
    expect(server.server.output()).toMatch(/was not properly shut down; automatic recovery in progress/);
    expect(await sql(server, "SELECT string_agg(n::text, ',' ORDER BY n) FROM kept")).toBe("1,2");
  });

  it("names the package to install when the binaries are missing", async () => {
    await expect(startPostgres({ binDir: "/nonexistent/bin" })).rejects.toThrow(/apt-get install -y postgresql/);
  });

  it("removes its data directory on close", async () => {
    const other = await startPostgres();
    const dir = other.dataDir;
    expect(existsSync(dir)).toBe(true);
    await other.close();
    expect(existsSync(dir)).toBe(false);
    expect(other.pid).toBeNull();
  });
});
