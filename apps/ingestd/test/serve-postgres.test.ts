// `tidemark serve` on a shared history store: nothing in serve knows PostgreSQL, it reads whatever
// history store the URL opens. Also: readiness and answers while the database is down.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { GetHistoryRequest_Direction, GetTransactionResponse_State, Transaction } from "@tidemark/kin/agora";
import { type PostgresTestServer, startPostgres } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runToEnd, workdir } from "./cli-process.js";
import {
  addressBytes,
  base58,
  historyViaCli,
  historyViaJson,
  ingest,
  type Made,
  type Serving,
  type SimulatedKin,
  sampleOf,
  simulateKin,
  startServe,
} from "./serve-fixture.js";

const dir = workdir();
let postgres: PostgresTestServer;
let kin: SimulatedKin;
let serving: Serving;
let sessions: Http2SessionManager;
let grpc: Client<typeof Transaction>;

beforeAll(async () => {
  postgres = await startPostgres();
  kin = await simulateKin("serve-postgres", 11);
  const init = await runToEnd(["store", "init", "--store", postgres.url], dir);
  expect(init.code, init.stderr).toBe(0);
  await ingest(kin, ["--store", postgres.url], dir);
  serving = await startServe(["--history", postgres.url], dir);
  sessions = new Http2SessionManager(serving.baseUrl);
  grpc = createClient(Transaction, createGrpcTransport({ baseUrl: serving.baseUrl, sessionManager: sessions }));
}, 180_000);
afterAll(async () => {
  sessions?.abort();
  await kin?.server.close();
  await postgres?.close();
});

const ready = async () => {
  const response = await fetch(`http://127.0.0.1:${serving.metricsPort}/ready`);
  return { status: response.status, text: await response.text() };
};

it("serves the PostgreSQL history: pages equal `tidemark history account --json`, transactions with their payments", async () => {
  const store = ["--store", postgres.url];
  const asc = await historyViaCli(kin.busy, store, "asc", dir);
  expect(asc).toHaveLength(110);
  const viaJson = await historyViaJson(serving.baseUrl, kin.busy, "ASC");
  expect(viaJson.ids).toEqual(asc);
  expect(viaJson.pages).toBe(2);
  expect((await historyViaJson(serving.baseUrl, kin.busy, "DESC")).ids).toEqual(
    await historyViaCli(kin.busy, store, "desc", dir),
  );
  const first = await grpc.getHistory({
    accountId: { value: addressBytes(kin.busy) },
    direction: GetHistoryRequest_Direction.DESC,
  });
  expect(first.items.map((item) => base58.decode(item.transactionId?.value ?? new Uint8Array()))).toEqual(
    [...asc].reverse().slice(0, 100),
  );

  for (const made of [kin.made[0], kin.made.at(-1)] as Made[]) {
    const reply = await grpc.getTransaction({ transactionId: { value: made.id } });
    expect(reply.state).toBe(made.failed ? GetTransactionResponse_State.FAILED : GetTransactionResponse_State.SUCCESS);
    expect(reply.item?.payments.map((p) => p.amount)).toEqual(made.payments.map((p) => p.amount));
  }
  const body = await ready();
  expect(body.status, body.text).toBe(200);
  expect(JSON.parse(body.text)).toMatchObject({ ready: true, chains: [{ committed: kin.lastSlot.toString() }] });
});

it("while the database is down: /ready is 503 saying why, requests fail INTERNAL without internals; both recover", async () => {
  await postgres.stop();
  try {
    const down = await ready();
    expect(down.status).toBe(503);
    const report = JSON.parse(down.text) as { ready: boolean; chains: { ready: boolean; reasons: string[] }[] };
    expect(report.chains[0]?.ready).toBe(false);
    expect(report.chains[0]?.reasons[0]).not.toBe("");

    const refusal = await grpc.getHistory({ accountId: { value: addressBytes(kin.busy) } }).then(
      () => null,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refusal?.code).toBe(Code.Internal);
    expect(refusal?.rawMessage).toBe("failed to get transactions");
    const metrics = await (await fetch(`http://127.0.0.1:${serving.metricsPort}/metrics`)).text();
    expect(sampleOf(metrics, 'tidemark_serve_requests{method="GetHistory",code="Internal"}')).toBe(1);

    for (const text of [down.text, metrics, refusal?.rawMessage ?? "", JSON.stringify(serving.cli.lines)]) {
      expect(text).not.toContain(postgres.password);
    }
  } finally {
    await postgres.start();
  }
  const deadline = performance.now() + 30_000;
  let again = await ready();
  while (again.status !== 200 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    again = await ready();
  }
  expect(again.status, again.text).toBe(200);
  const page = await grpc.getHistory({ accountId: { value: addressBytes(kin.busy) } });
  expect(page.items).toHaveLength(100);
  expect(serving.cli.stderr.join("\n")).not.toContain(postgres.password);
});
