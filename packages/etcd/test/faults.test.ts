import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { promisify } from "node:util";
import { uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  MemoryHistoryStore,
  pointerFromNumber,
  run,
  SequenceIngestor,
  sequenceCodec,
} from "@tidemark/core";
import { createEtcdClient, EtcdCommitter, EtcdLock } from "@tidemark/etcd";
import { type EtcdTestServer, freePorts, startEtcd, TcpFaultProxy } from "@tidemark/test-servers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminClient, endpoints, newCommitter, newLock, readRaw } from "./helpers.js";

const admin = adminClient();
const p = (n: number) => pointerFromNumber(n);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
function track<T extends { close(): Promise<void> }>(item: T): T {
  closers.push(() => item.close());
  return item;
}

describe("unreachable etcd", () => {
  let nowhere: string;
  beforeAll(async () => {
    const [port] = await freePorts(1);
    nowhere = `http://127.0.0.1:${port}`;
  });

  it("fails commits, reads and lock() with a BackendUnavailableError naming the endpoint once retries run out", async () => {
    const committer = track(new EtcdCommitter({ connection: { hosts: nowhere }, retryTimeoutMs: 400 }));
    const commit = committer.commit(uniqueName("nowhere"), null, p(1));
    await expect(commit).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(commit).rejects.toThrow(nowhere);
    await expect(committer.latest(uniqueName("nowhere"))).rejects.toThrow(/unreachable/);
    const lock = track(
      new EtcdLock({ connection: { hosts: nowhere }, key: uniqueName("nowhere"), retryTimeoutMs: 400 }),
    );
    const locking = lock.lock(AbortSignal.timeout(10_000));
    await expect(locking).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(locking).rejects.toThrow(nowhere);
  });

  it("lets run() wait for an etcd that never answered yet (still starting), then ingest", async () => {
    const [endpoint] = endpoints() as [string];
    const etcd = new URL(endpoint);
    const proxy = await TcpFaultProxy.start({ host: etcd.hostname, port: Number(etcd.port) });
    closers.push(() => proxy.close());
    // Connections are refused until `resume`: to the clients, a server that has not started yet.
    proxy.down();
    const connection = { hosts: `http://${proxy.address}` };
    const key = uniqueName("starting");
    const lock = track(new EtcdLock({ connection, key, retryTimeoutMs: 300 }));
    const committer = track(new EtcdCommitter({ connection, retryTimeoutMs: 300 }));
    const ingestor = new SequenceIngestor({ name: key, lastBlock: 10n });
    const writer = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest(key) });
    const errors: unknown[] = [];
    const running = run({
      signal: AbortSignal.timeout(30_000),
      lock,
      committer,
      writer,
      ingestor,
      until: p(10),
      lockRetryMs: 100,
      onEvent: (event) => {
        if (event.type === "error") errors.push(event.error);
      },
    });
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(
      errors.every((error) => error instanceof BackendUnavailableError),
      String(errors[0]),
    ).toBe(true);
    proxy.resume();
    await running;
    expect(await readRaw(admin, committer.keyFor(key))).toEqual(p(10));
  });

  it("refuses a server certificate it cannot verify with a ConfigurationError at once", async () => {
    const server = await selfSignedTlsServer();
    closers.push(server.close);
    const committer = track(new EtcdCommitter({ connection: { hosts: server.url } }));
    const started = performance.now();
    const commit = committer.commit(uniqueName("certificate"), null, p(1));
    await expect(commit).rejects.toBeInstanceOf(ConfigurationError);
    await expect(commit).rejects.toThrow(/certificate/);
    // No retry budget was spent on it (10 s by default).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("reports TLS spoken to a plaintext etcd as a ConfigurationError naming the endpoint", async () => {
    const [plain] = endpoints() as [string];
    const tls = plain.replace(/^http:/, "https:");
    const committer = track(new EtcdCommitter({ connection: { hosts: tls }, retryTimeoutMs: 400 }));
    const ingestor = uniqueName("tls");
    const commit = committer.commit(ingestor, null, p(1));
    await expect(commit).rejects.toBeInstanceOf(ConfigurationError);
    await expect(commit).rejects.toThrow(tls);
    expect(await readRaw(admin, committer.keyFor(ingestor))).toBeNull();
  });
});

/** A TLS server with a self-signed certificate, made with the `openssl` command: nothing a client trusts. */
async function selfSignedTlsServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tidemark-tls-"));
  try {
    await promisify(execFile)("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
      ...["-subj", "/CN=127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ]);
    const [key, cert] = await Promise.all([readFile(join(dir, "key.pem")), readFile(join(dir, "cert.pem"))]);
    const server = createTlsServer({ key, cert, ALPNProtocols: ["h2"] }, (socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `https://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("etcd with authentication", () => {
  let secured: EtcdTestServer;
  beforeAll(async () => {
    secured = await startEtcd();
    const root = createEtcdClient({ hosts: [...secured.endpoints] });
    try {
      await root.role("root").create();
      await root.user("root").create("right-password");
      await root.user("root").addRole("root");
      await root.auth.authEnable();
    } finally {
      root.close();
    }
  });
  afterAll(() => secured?.close());

  it("rejects a wrong password at once with a ConfigurationError naming the endpoint", async () => {
    const [endpoint] = secured.endpoints as [string];
    const committer = track(
      new EtcdCommitter({ connection: { hosts: endpoint, auth: { username: "root", password: "wrong" } } }),
    );
    const started = performance.now();
    const commit = committer.commit(uniqueName("auth"), null, p(1));
    await expect(commit).rejects.toBeInstanceOf(ConfigurationError);
    await expect(commit).rejects.toThrow(endpoint);
    await expect(commit).rejects.toThrow(/authentication failed/);
    // No retry budget was spent on it (10 s by default).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("rejects missing credentials with a ConfigurationError, and works with the right ones", async () => {
    const [endpoint] = secured.endpoints as [string];
    const anonymous = track(new EtcdLock({ connection: { hosts: endpoint }, key: uniqueName("auth") }));
    await expect(anonymous.lock(AbortSignal.timeout(10_000))).rejects.toBeInstanceOf(ConfigurationError);

    const auth = { username: "root", password: "right-password" };
    const committer = track(new EtcdCommitter({ connection: { hosts: endpoint, auth } }));
    const lock = track(new EtcdLock({ connection: { hosts: endpoint, auth }, key: uniqueName("auth") }));
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const ingestor = uniqueName("auth");
    await committer.commit(ingestor, null, p(1), { lease });
    expect(await committer.latest(ingestor)).toEqual(p(1));
  });
});

describe("bad stored values and bad input", () => {
  it("names the key holding a value that is not a pointer, and commits nothing over it", async () => {
    const committer = track(newCommitter());
    const ingestor = uniqueName("corrupt");
    const key = committer.keyFor(ingestor);
    await admin.put(key).value(Buffer.alloc(0));
    for (const attempt of [
      () => committer.latest(ingestor),
      () => committer.commit(ingestor, null, p(1)),
      () => committer.commit(ingestor, p(1), p(2)),
      () => committer.reset(ingestor, null, p(1)),
    ]) {
      const outcome = attempt();
      await expect(outcome).rejects.toBeInstanceOf(CorruptRecordError);
      await expect(outcome).rejects.toThrow(key);
    }
    expect(await readRaw(admin, key)).toEqual(new Uint8Array());
  });

  it("rejects names that are not well-formed Unicode before sending anything", async () => {
    const committer = track(newCommitter());
    await expect(committer.commit("broken-\ud800", null, p(1))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(committer.latest("broken-\ud800")).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => newLock("broken-\ud800")).toThrow(InvalidArgumentError);
  });

  it("rejects contradictory or impossible options", () => {
    const client = createEtcdClient({ hosts: endpoints() });
    closers.push(async () => client.close());
    expect(() => new EtcdCommitter({})).toThrow(InvalidArgumentError);
    expect(() => new EtcdCommitter({ client, connection: { hosts: endpoints() } })).toThrow(InvalidArgumentError);
    expect(() => new EtcdCommitter({ client, retryTimeoutMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new EtcdCommitter({ client, requestTimeoutMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new EtcdLock({ client, key: "" })).toThrow(InvalidArgumentError);
    expect(() => new EtcdLock({ client, key: "x", owner: "" })).toThrow(InvalidArgumentError);
    expect(() => new EtcdLock({ client, key: "x", leaseMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new EtcdLock({ client, key: "x", leaseMs: 2000, heartbeatMs: 2000 })).toThrow(/etcd lock "x"/);
  });

  it("shares one client between a committer and a lock without closing it", async () => {
    const client = createEtcdClient({ hosts: endpoints() });
    closers.push(async () => client.close());
    const committer = new EtcdCommitter({ client });
    const lock = new EtcdLock({ client, key: uniqueName("shared") });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const ingestor = uniqueName("shared");
    await committer.commit(ingestor, null, p(1), { lease });
    await lock.close();
    await committer.close();
    expect(await new EtcdCommitter({ client }).latest(ingestor)).toEqual(p(1));
  });
});
