// `tidemark serve` as a process: the simulated chain ingested by `run` into SQLite, then read back
// over Connect JSON (plain fetch), gRPC and gRPC-Web, with its metrics, readiness and shutdown.
import * as http2 from "node:http2";
import { Server, Socket } from "node:net";
import { join } from "node:path";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import {
  GetHistoryRequest_Direction,
  GetTransactionResponse_State,
  type HistoryItem,
  Transaction,
} from "@tidemark/kin/agora";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveService } from "../src/serve-command.js";
import { resolveServeConfig } from "../src/serve-config.js";
import { workdir } from "./cli-process.js";
import {
  addressBytes,
  base58,
  base64,
  connectJson,
  historyViaCli,
  historyViaJson,
  ingest,
  type Made,
  SERVICE,
  type Serving,
  type SimulatedKin,
  sampleOf,
  simulateKin,
  startServe,
} from "./serve-fixture.js";

const dir = workdir();
const db = join(dir, "serve.db");
let kin: SimulatedKin;
let serving: Serving;
let sessions: Http2SessionManager;
let grpc: Client<typeof Transaction>;

beforeAll(async () => {
  kin = await simulateKin("serve", 14);
  await ingest(kin, ["--store", `sqlite:${db}`], dir);
  serving = await startServe(["--history", `sqlite:${db}`], dir);
  sessions = new Http2SessionManager(serving.baseUrl);
  grpc = createClient(Transaction, createGrpcTransport({ baseUrl: serving.baseUrl, sessionManager: sessions }));
}, 120_000);
afterAll(async () => {
  sessions?.abort();
  await kin?.server.close();
});

const kinAccount = (wallet: number) => kin.factory.wallet(wallet).kinAccount as string;
const metrics = async () => (await fetch(`http://127.0.0.1:${serving.metricsPort}/metrics`)).text();
/** What a client may be shown: no stack, no source file, no query, no path of this machine. */
const expectNoInternals = (text: string) => {
  expect(text).not.toMatch(/\n\s+at |\.[jt]s:\d|SELECT|sqlite|node:internal/i);
  expect(text).not.toContain(dir);
};
const paymentsOf = (item: HistoryItem) =>
  item.payments.map((p) => ({
    source: base58.decode(p.source?.value ?? new Uint8Array()),
    destination: base58.decode(p.destination?.value ?? new Uint8Array()),
    amount: p.amount,
    index: p.index,
  }));

async function historyViaGrpc(account: string, direction: GetHistoryRequest_Direction): Promise<string[]> {
  const ids: string[] = [];
  let cursor: Uint8Array | undefined;
  for (;;) {
    const { items } = await grpc.getHistory({
      accountId: { value: addressBytes(account) },
      direction,
      ...(cursor ? { cursor: { value: cursor } } : {}),
    });
    expect(items.length).toBeLessThanOrEqual(100);
    ids.push(...items.map((item) => base58.decode(item.transactionId?.value ?? new Uint8Array())));
    if (items.length < 100) return ids;
    cursor = items.at(-1)?.cursor?.value;
  }
}

it("logs the port it serves on as grpcPort, on loopback", () => {
  expect(serving.listening.grpcPort).toBeGreaterThan(0);
  expect(serving.listening.host).toBe("127.0.0.1");
  expect(serving.listening.chains).toEqual(["kin4"]);
});

describe("GetTransaction", () => {
  it("over gRPC: every transfer the simulator made, with its state, slot and payments", async () => {
    for (const made of kin.made) {
      const reply = await grpc.getTransaction({ transactionId: { value: made.id } });
      expect(reply.state).toBe(
        made.failed ? GetTransactionResponse_State.FAILED : GetTransactionResponse_State.SUCCESS,
      );
      expect(reply.slot).toBe(made.slot.toString());
      const item = reply.item as HistoryItem;
      expect(item.transactionId?.value).toEqual(made.id);
      expect(paymentsOf(item)).toEqual(made.payments);
      expect(item.rawTransaction.case).toBe("solanaTransaction");
      expect(item.transactionError !== undefined).toBe(made.failed);
    }
  });

  it("over Connect JSON with plain fetch on HTTP/1.1, as curl would", async () => {
    const made = kin.made[3] as Made;
    const reply = await connectJson(serving.baseUrl, "GetTransaction", { transactionId: { value: base64(made.id) } });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.state).toBe("SUCCESS");
    expect(reply.body.slot).toBe(made.slot.toString());
    const item = reply.body.item as {
      transactionId: { value: string };
      payments: { source: { value: string }; destination: { value: string }; amount: string; index?: number }[];
      transactionTime?: string;
    };
    expect(item.transactionId.value).toBe(base64(made.id));
    expect(
      item.payments.map((p) => ({
        source: base58.decode(Buffer.from(p.source.value, "base64")),
        destination: base58.decode(Buffer.from(p.destination.value, "base64")),
        amount: BigInt(p.amount),
        index: p.index ?? 0,
      })),
    ).toEqual(made.payments);
  });

  it("over gRPC-Web on HTTP/1.1 and Connect's binary format on HTTP/2, on the same port", async () => {
    const made = kin.made.at(-2) as Made;
    const web = createClient(Transaction, createGrpcWebTransport({ baseUrl: serving.baseUrl, httpVersion: "1.1" }));
    const viaWeb = await web.getTransaction({ transactionId: { value: made.id } });
    expect(paymentsOf(viaWeb.item as HistoryItem)).toEqual(made.payments);
    const h2 = new Http2SessionManager(serving.baseUrl);
    try {
      const binary = createClient(
        Transaction,
        createConnectTransport({ baseUrl: serving.baseUrl, httpVersion: "2", sessionManager: h2 }),
      );
      const viaBinary = await binary.getTransaction({ transactionId: { value: made.id } });
      expect(paymentsOf(viaBinary.item as HistoryItem)).toEqual(made.payments);
    } finally {
      h2.abort();
    }
  });

  it("answers UNKNOWN, not an error, for a transaction it does not have", async () => {
    const unknown = new Uint8Array(64).fill(7);
    const reply = await grpc.getTransaction({ transactionId: { value: unknown } });
    expect(reply.state).toBe(GetTransactionResponse_State.UNKNOWN);
    expect(reply.item).toBeUndefined();
    const json = await connectJson(serving.baseUrl, "GetTransaction", { transactionId: { value: base64(unknown) } });
    expect(json.status).toBe(200);
    // proto3 JSON leaves out a zero enum: UNKNOWN is the absent state.
    expect(json.body.state ?? "UNKNOWN").toBe("UNKNOWN");
    expect(json.body.item).toBeUndefined();
  });
});

describe("GetHistory", () => {
  it("pages ascending and descending through gRPC and Connect JSON exactly as `tidemark history account --json` lists", async () => {
    const store = ["--store", `sqlite:${db}`];
    for (const account of [kin.busy, kinAccount(1), kinAccount(4)]) {
      const asc = await historyViaCli(account, store, "asc", dir);
      const desc = await historyViaCli(account, store, "desc", dir);
      expect(asc.length, account).toBeGreaterThan(0);
      expect(desc).toEqual([...asc].reverse());
      expect(await historyViaGrpc(account, GetHistoryRequest_Direction.ASC)).toEqual(asc);
      expect(await historyViaGrpc(account, GetHistoryRequest_Direction.DESC)).toEqual(desc);
      expect((await historyViaJson(serving.baseUrl, account, "ASC")).ids).toEqual(asc);
      expect((await historyViaJson(serving.baseUrl, account, "DESC")).ids).toEqual(desc);
    }
    // Wallet 0 paid 140 times: two pages, so the cursor carried the second.
    const busy = await historyViaJson(serving.baseUrl, kin.busy, "ASC");
    expect(busy.ids).toHaveLength(140);
    expect(busy.pages).toBe(2);
  });
});

describe("bad requests", () => {
  const cases: { name: string; method: "GetTransaction" | "GetHistory"; request: () => unknown; field: string }[] = [
    {
      name: "a transaction id of the wrong length",
      method: "GetTransaction",
      request: () => ({ transactionId: { value: new Uint8Array(10) } }),
      field: "transaction_id.value",
    },
    {
      name: "a malformed account id",
      method: "GetHistory",
      request: () => ({ accountId: { value: new Uint8Array(5) } }),
      field: "account_id.value",
    },
    {
      name: "a malformed cursor",
      method: "GetHistory",
      request: () => ({ accountId: { value: addressBytes(kin.busy) }, cursor: { value: Buffer.from("abc") } }),
      field: "cursor.value",
    },
    {
      name: "a cursor of another account",
      method: "GetHistory",
      request: () => ({ accountId: { value: addressBytes(kinAccount(5)) }, cursor: { value: busyCursor } }),
      field: "cursor.value",
    },
  ];
  let busyCursor: Uint8Array;
  beforeAll(async () => {
    const { items } = await grpc.getHistory({ accountId: { value: addressBytes(kin.busy) } });
    busyCursor = items[0]?.cursor?.value as Uint8Array;
  });

  it.each(cases)("$name: INVALID_ARGUMENT naming $field, over gRPC and Connect JSON", async (c) => {
    const request = c.request() as Record<string, { value: Uint8Array }>;
    const refusal = await (c.method === "GetHistory"
      ? grpc.getHistory(request as never)
      : grpc.getTransaction(request as never)
    ).then(
      () => null,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refusal?.code).toBe(Code.InvalidArgument);
    expect(refusal?.rawMessage.startsWith(`${c.field}: `), refusal?.rawMessage).toBe(true);
    expectNoInternals(refusal?.rawMessage ?? "");

    const json = Object.fromEntries(
      Object.entries(request).map(([key, message]) => [key, { value: base64(message.value) }]),
    );
    const reply = await connectJson(serving.baseUrl, c.method, json);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("invalid_argument");
    expect(reply.body.message?.startsWith(`${c.field}: `), reply.text).toBe(true);
    expectNoInternals(reply.text);
  });

  it("a body that is not the method's JSON: INVALID_ARGUMENT, without internals", async () => {
    for (const body of ["{not json", '{"accountId": {"value": "%%%"}}', '{"direction": "SIDEWAYS"}']) {
      const reply = await connectJson(serving.baseUrl, "GetHistory", body);
      expect(reply.status, body).toBe(400);
      expect(reply.body.code).toBe("invalid_argument");
      expectNoInternals(reply.text);
    }
  });
});

describe("any other method", () => {
  it("of the Transaction service answers UNIMPLEMENTED over gRPC and Connect", async () => {
    for (const call of [
      () => grpc.submitTransaction({}),
      () => grpc.getRecentBlockhash({}),
      () => grpc.getServiceConfig({}),
    ]) {
      const error = await call().then(
        () => null,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.Unimplemented);
    }
    const reply = await connectJson(serving.baseUrl, "GetMinimumKinVersion", {});
    expect(reply.body.code).toBe("unimplemented");
  });

  it("of another service answers UNIMPLEMENTED in the caller's protocol", async () => {
    const path = "/kin.agora.account.v4.Account/GetAccountInfo";
    const session = http2.connect(serving.baseUrl);
    try {
      const { headers, trailers } = await new Promise<{
        headers: http2.IncomingHttpHeaders;
        trailers: http2.IncomingHttpHeaders;
      }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
        });
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => {
          headers = h;
        });
        stream.on("trailers", (trailers) => resolve({ headers, trailers }));
        stream.on("error", reject);
        stream.on("end", () => resolve({ headers, trailers: {} }));
        stream.resume();
        // An empty gRPC message: no compression flag, zero length.
        stream.end(Buffer.alloc(5));
      });
      expect(headers[":status"]).toBe(200);
      expect(trailers["grpc-status"] ?? headers["grpc-status"]).toBe(String(Code.Unimplemented));
    } finally {
      session.close();
    }
    const response = await fetch(`${serving.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { code: string }).code).toBe("unimplemented");
  });
});

describe("metrics and health", () => {
  it("counts every request by method and code, times it, and shares /metrics, /healthz and /ready", async () => {
    const series = (method: string, code: string) => `tidemark_serve_requests{method="${method}",code="${code}"}`;
    const watched = [
      ["GetTransaction", "OK"],
      ["GetTransaction", "InvalidArgument"],
      ["GetHistory", "OK"],
      ["GetHistory", "InvalidArgument"],
      ["SubmitTransaction", "Unimplemented"],
      ["unknown", "Unimplemented"],
    ] as const;
    const counts = (text: string) => watched.map(([method, code]) => sampleOf(text, series(method, code)));
    const timed = (text: string, method: string) =>
      sampleOf(text, `tidemark_serve_request_seconds_count{method="${method}"}`);
    const before = await metrics();

    const made = kin.made[0] as Made;
    await grpc.getTransaction({ transactionId: { value: made.id } });
    await connectJson(serving.baseUrl, "GetTransaction", { transactionId: { value: base64(made.id) } });
    await grpc.getTransaction({ transactionId: { value: new Uint8Array(3) } }).catch(() => null);
    await grpc.getHistory({ accountId: { value: addressBytes(kin.busy) } });
    await connectJson(serving.baseUrl, "GetHistory", { accountId: { value: base64(new Uint8Array(1)) } });
    // Refused before the method runs: it does not decode.
    await connectJson(serving.baseUrl, "GetHistory", "{not json");
    await grpc.submitTransaction({}).catch(() => null);
    await fetch(`${serving.baseUrl}/no.such.Service/Method`, { method: "POST", body: "{}" }).then((r) => r.text());

    const after = await metrics();
    const deltas = counts(after).map((n, i) => n - (counts(before)[i] as number));
    expect(deltas).toEqual([2, 1, 1, 2, 1, 1]);
    expect(timed(after, "GetTransaction") - timed(before, "GetTransaction")).toBe(3);
    expect(timed(after, "GetHistory") - timed(before, "GetHistory")).toBe(3);
    expect(after).toContain('tidemark_serve_request_seconds_bucket{le="0.005",method="GetHistory"}');

    const ready = await fetch(`http://127.0.0.1:${serving.metricsPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      chains: [{ chain: "kin4", ready: true, committed: kin.lastSlot.toString() }],
    });
    expect((await fetch(`http://127.0.0.1:${serving.metricsPort}/healthz`)).status).toBe(200);
    // Leadership is `run`'s: serve has no /leader.
    const leader = await fetch(`http://127.0.0.1:${serving.metricsPort}/leader`);
    expect(leader.status).toBe(503);
    expect(((await leader.json()) as { endpoints: string[] }).endpoints).toEqual(["/metrics", "/healthz", "/ready"]);
  });
});

describe("shutdown", () => {
  it("exits 0 on SIGTERM at once, with gRPC and HTTP/1.1 keep-alive connections still open", async () => {
    // Both stay open: the HTTP/2 session of the gRPC client and fetch's kept-alive HTTP/1.1 connection.
    await grpc.getTransaction({ transactionId: { value: (kin.made[0] as Made).id } });
    await connectJson(serving.baseUrl, "GetTransaction", {
      transactionId: { value: base64((kin.made[0] as Made).id) },
    });
    const started = performance.now();
    serving.cli.child.kill("SIGTERM");
    const { code } = await serving.cli.exited;
    expect(code, serving.cli.dump()).toBe(0);
    // Under the 5 s grace: idle connections are closed, not waited for. The margin is for process
    // shutdown on a loaded machine; waiting out the grace would still exceed it.
    expect(performance.now() - started).toBeLessThan(4500);
    expect(serving.cli.lines.some((line) => line.msg === "serve: stopping")).toBe(true);
  });

  it("in-process: resolves once stopped and leaves no server or connection of its own behind", async () => {
    const controller = new AbortController();
    let ports: { grpcPort: number; metricsPort?: number } | undefined;
    const config = resolveServeConfig({
      flags: { history: `sqlite:${db}`, port: "0", metricsPort: "0", logLevel: "silent" },
      env: {},
    });
    const done = serveService({
      config,
      signal: controller.signal,
      onListening: (p) => {
        ports = p;
      },
    });
    await until(() => ports !== undefined);
    const own = [ports?.grpcPort, ports?.metricsPort];
    /** Listeners and sockets on the service's ports, whichever end. */
    const handles = () =>
      (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((handle) => {
        if (handle instanceof Server) {
          const address = handle.address();
          return typeof address === "object" && address !== null && own.includes(address.port);
        }
        return handle instanceof Socket && (own.includes(handle.localPort) || own.includes(handle.remotePort));
      });
    const baseUrl = `http://127.0.0.1:${ports?.grpcPort}`;
    const manager = new Http2SessionManager(baseUrl);
    const client = createClient(Transaction, createGrpcTransport({ baseUrl, sessionManager: manager }));
    try {
      expect((await client.getTransaction({ transactionId: { value: (kin.made[1] as Made).id } })).state).toBe(
        GetTransactionResponse_State.SUCCESS,
      );
      const page = await connectJson(baseUrl, "GetHistory", { accountId: { value: base64(addressBytes(kin.busy)) } });
      expect(page.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports?.metricsPort}/ready`)).status).toBe(200);
      // Two listeners, and the connections the clients keep open.
      expect(handles().length).toBeGreaterThan(2);

      const stopping = performance.now();
      controller.abort();
      await done;
      // Idle connections are closed at once, not left to the 5 s grace (margin for a loaded machine).
      expect(performance.now() - stopping).toBeLessThan(4000);
      // Closed handles leave the list on a later turn of the event loop.
      await until(() => handles().length === 0);
      expect(handles()).toEqual([]);
    } finally {
      manager.abort();
    }
  });
});

/** Waits up to 5 s for `condition`; the caller's own expectation then says what failed. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!condition() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The service name the paths above spell out by hand is the generated descriptor's.
it("serves the descriptor's service name", () => {
  expect(Transaction.typeName).toBe(SERVICE);
});
