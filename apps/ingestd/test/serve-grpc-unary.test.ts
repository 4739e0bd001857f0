// `serve` answers plain gRPC calls (what agora's SDKs send) on its own path instead of Connect's
// router. Every answer is compared with the one Connect gives for the same call, made with a
// compressed request (which only Connect's path takes), over raw HTTP/2.
import * as http2 from "node:http2";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Logger } from "@tidemark/core";
import {
  GetHistoryRequest_Direction,
  GetHistoryRequestSchema,
  GetHistoryResponseSchema,
  GetTransactionRequestSchema,
} from "@tidemark/kin/agora";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveService } from "../src/serve-command.js";
import { resolveServeConfig } from "../src/serve-config.js";
import { workdir } from "./cli-process.js";
import { addressBytes, ingest, type Made, SERVICE, type SimulatedKin, simulateKin } from "./serve-fixture.js";

const dir = workdir();
const db = join(dir, "serve-grpc.db");
let kin: SimulatedKin;
let stop: AbortController;
let done: Promise<void>;
let session: http2.ClientHttp2Session;
/** The debug lines `serve` logs per call: method, gRPC code, and the path that answered. */
const calls: { method?: string; code?: string; via?: string }[] = [];

const logger: Logger = {
  debug: (fields, message) => {
    if (message === "serve: request") calls.push(fields as (typeof calls)[number]);
  },
  info() {},
  warn() {},
  error() {},
};

beforeAll(async () => {
  kin = await simulateKin("serve-grpc-unary", 12);
  await ingest(kin, ["--store", `sqlite:${db}`], dir);
  stop = new AbortController();
  const config = resolveServeConfig({ flags: { history: `sqlite:${db}`, port: "0", logLevel: "debug" }, env: {} });
  let port: number | undefined;
  done = serveService({ config, signal: stop.signal, logger, onListening: (ports) => (port = ports.grpcPort) });
  while (port === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  session = http2.connect(`http://127.0.0.1:${port}`);
}, 120_000);

afterAll(async () => {
  session?.close();
  stop?.abort();
  await done;
  await kin?.server.close();
});

interface Answer {
  readonly status: string | undefined;
  readonly message: string | undefined;
  /** The response message's bytes (uncompressed), empty when there is none. */
  readonly body: Buffer;
}

/** One raw gRPC call: `message` framed (gzip-compressed with `compressed`), the answer read as it comes. */
function call(
  method: string,
  message: Uint8Array,
  options: { compressed?: boolean; headers?: http2.OutgoingHttpHeaders } = {},
): Promise<Answer> {
  const payload = options.compressed ? gzipSync(message) : Buffer.from(message);
  const frame = Buffer.alloc(5 + payload.length);
  frame[0] = options.compressed ? 1 : 0;
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, 5);
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/${SERVICE}/${method}`,
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...(options.compressed ? { "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" } : {}),
      ...options.headers,
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let text: string | undefined;
    const read = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
      if (headers["grpc-message"] !== undefined) text = decodeURIComponent(String(headers["grpc-message"]));
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      const message = body.length === 0 ? body : body.subarray(5, 5 + body.readUInt32BE(1));
      resolve({ status, message: text, body: body[0] === 1 ? gunzipSync(message) : message });
    });
    stream.end(frame);
  });
}

/** The calls logged since `from`, by the path that answered them. */
const answeredVia = (from: number) => calls.slice(from).map((c) => c.via);

const history = (init: Parameters<typeof create<typeof GetHistoryRequestSchema>>[1]) =>
  toBinary(GetHistoryRequestSchema, create(GetHistoryRequestSchema, init));
const transaction = (id: Uint8Array) =>
  toBinary(GetTransactionRequestSchema, create(GetTransactionRequestSchema, { transactionId: { value: id } }));

describe("plain gRPC calls", () => {
  it("get, byte for byte, the answers Connect's router gives: pages, transactions and refusals", async () => {
    const busy = addressBytes(kin.busy);
    const first = fromBinary(
      GetHistoryResponseSchema,
      (await call("GetHistory", history({ accountId: { value: busy } }))).body,
    );
    expect(first.items.length).toBe(100);
    const cursor = first.items[42]?.cursor?.value as Uint8Array;
    const cases: [string, Uint8Array][] = [
      ["GetHistory", history({ accountId: { value: busy } })],
      ["GetHistory", history({ accountId: { value: busy }, cursor: { value: cursor } })],
      [
        "GetHistory",
        history({ accountId: { value: busy }, cursor: { value: cursor }, direction: GetHistoryRequest_Direction.DESC }),
      ],
      ["GetHistory", history({ accountId: { value: addressBytes(kin.factory.wallet(2).owner.address) } })],
      ["GetHistory", history({ accountId: { value: new Uint8Array(5) } })],
      ["GetHistory", history({ accountId: { value: busy }, cursor: { value: Buffer.from("not a cursor") } })],
      ["GetTransaction", transaction((kin.made[3] as Made).id)],
      ["GetTransaction", transaction((kin.made.find((m) => m.failed) as Made).id)],
      ["GetTransaction", transaction(new Uint8Array(64).fill(7))],
      ["GetTransaction", transaction(new Uint8Array(10))],
      // Not a protobuf message at all.
      ["GetTransaction", new Uint8Array([0xff, 0xff, 0xff])],
    ];
    const from = calls.length;
    for (const [method, message] of cases) {
      const plain = await call(method, message);
      const viaConnect = await call(method, message, { compressed: true });
      expect(plain, `${method} ${Buffer.from(message).toString("hex")}`).toEqual(viaConnect);
    }
    expect(answeredVia(from)).toEqual(cases.flatMap(() => ["grpc", "connect"]));
    // What was compared is real: pages of items, found transactions and refusals naming the field.
    const answers = await Promise.all(cases.map(([method, message]) => call(method, message)));
    expect(answers.map((a) => a.status)).toEqual(["0", "0", "0", "0", "3", "3", "0", "0", "0", "3", "13"]);
    expect(answers[4]?.message).toMatch(/^account_id\.value: /);
    expect(answers[9]?.message).toMatch(/^transaction_id\.value: /);
    expect(fromBinary(GetHistoryResponseSchema, answers[2]?.body ?? new Uint8Array()).items.length).toBe(42);
  });

  it("refuse a request over the size limit with RESOURCE_EXHAUSTED, as Connect does", async () => {
    const huge = history({ accountId: { value: new Uint8Array(70 * 1024) } });
    const from = calls.length;
    const plain = await call("GetHistory", huge);
    const viaConnect = await call("GetHistory", huge, { compressed: true });
    expect(plain.status).toBe("8");
    expect(viaConnect.status).toBe("8");
    expect(answeredVia(from)).toEqual(["grpc", "connect"]);
  });

  it("take a deadline (grpc-timeout) and leave a malformed one to Connect's refusal", async () => {
    const from = calls.length;
    const timed = await call("GetTransaction", transaction((kin.made[0] as Made).id), {
      headers: { "grpc-timeout": "5S" },
    });
    expect(timed.status).toBe("0");
    const malformed = await call("GetTransaction", transaction((kin.made[0] as Made).id), {
      headers: { "grpc-timeout": "soon" },
    });
    expect(malformed.status).not.toBe("0");
    expect(answeredVia(from)).toEqual(["grpc", "connect"]);
  });

  it("record a call the client gives up mid-request as Connect does, and go on answering", async () => {
    const giveUp = async (compressed: boolean) => {
      const from = calls.length;
      const stream = session.request({
        ":method": "POST",
        ":path": `/${SERVICE}/GetTransaction`,
        "content-type": "application/grpc+proto",
        te: "trailers",
        ...(compressed ? { "grpc-encoding": "gzip" } : {}),
      });
      stream.on("error", () => {});
      // Half a frame header, then the client resets the stream.
      stream.write(Buffer.from([0, 0, 0]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      const deadline = Date.now() + 10_000;
      while (calls.length === from && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return calls.slice(from);
    };
    const plain = await giveUp(false);
    const viaConnect = await giveUp(true);
    expect(plain).toEqual([expect.objectContaining({ method: "GetTransaction", via: "grpc" })]);
    expect(viaConnect).toEqual([expect.objectContaining({ method: "GetTransaction", via: "connect" })]);
    // Node ends the request before it reports the reset, so both read a cut frame.
    expect(plain[0]?.code).toBe(viaConnect[0]?.code);
    expect((await call("GetTransaction", transaction((kin.made[0] as Made).id))).status).toBe("0");
  });

  it("answer framing faults and an expired deadline with Connect's codes and words", async () => {
    /** The body as it is, the request declared compressed or not (only Connect's path takes a declared one). */
    const raw = (body: Buffer, headers: http2.OutgoingHttpHeaders = {}) =>
      new Promise<Answer>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/${SERVICE}/GetTransaction`,
          "content-type": "application/grpc+proto",
          te: "trailers",
          ...headers,
        });
        const chunks: Buffer[] = [];
        let status: string | undefined;
        let text: string | undefined;
        stream.on("trailers", (t) => {
          status = String(t["grpc-status"]);
          text = decodeURIComponent(String(t["grpc-message"] ?? ""));
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("end", () => resolve({ status, message: text, body: Buffer.concat(chunks) }));
        stream.end(body);
      });
    const viaConnect = { "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" };
    const message = transaction((kin.made[0] as Made).id);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const huge = Buffer.from([0, 0x40, 0, 0, 0, 1, 2, 3]);
    const bodies: [string, Buffer, http2.OutgoingHttpHeaders?][] = [
      ["no message", Buffer.alloc(0)],
      ["a cut header", frame.subarray(0, 3)],
      ["a cut message", frame.subarray(0, frame.length - 1)],
      ["two messages", Buffer.concat([frame, frame])],
      ["a message and a cut one", Buffer.concat([frame, frame.subarray(0, 7)])],
      ["a declared size over the limit", huge],
      ["a message over the limit after one", Buffer.concat([frame, huge])],
      ["garbage", Buffer.from([0, 0, 0, 0, 3, 0xff, 0xff, 0xff])],
      ["an expired deadline", frame, { "grpc-timeout": "1n" }],
    ];
    const from = calls.length;
    for (const [name, body, headers] of bodies) {
      const plain = await raw(body, headers);
      const connect = await raw(body, { ...headers, ...viaConnect });
      expect(plain, name).toEqual(connect);
    }
    expect(answeredVia(from)).toEqual(bodies.flatMap(() => ["grpc", "connect"]));
    const answers = await Promise.all(bodies.map(([, body, headers]) => raw(body, headers)));
    expect(answers.map((a) => a.status)).toEqual(["12", "3", "3", "12", "3", "8", "8", "13", "0"]);
    // A compressed message without grpc-encoding (which only this path can get), in Connect's words.
    const flagged = await raw(Buffer.concat([Buffer.from([1]), frame.subarray(1)]));
    expect([flagged.status, flagged.message]).toEqual([
      "13",
      "received compressed envelope, but do not know how to decompress",
    ]);
  });

  it("stop a client that keeps sending once its request is refused", async () => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/${SERVICE}/GetTransaction`,
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    stream.on("error", () => {});
    let status: string | undefined;
    stream.on("trailers", (t) => (status = String(t["grpc-status"])));
    stream.resume();
    const closed = new Promise<string>((resolve) => stream.once("close", () => resolve("closed")));
    // A header that declares 1 MB, then data that never ends.
    stream.write(Buffer.from([0, 0, 0x10, 0, 0]));
    const pushing = setInterval(() => {
      if (!stream.closed) stream.write(Buffer.alloc(16 * 1024));
    }, 5);
    let timer: NodeJS.Timeout | undefined;
    const open = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("still open"), 5000);
    });
    try {
      // The client never ends its request: only the server can close the stream.
      expect(await Promise.race([closed, open])).toBe("closed");
    } finally {
      clearInterval(pushing);
      clearTimeout(timer);
      stream.destroy();
    }
    expect(status).toBe("8");
  });
});
