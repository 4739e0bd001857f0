import type { IncomingMessage, ServerResponse } from "node:http";
import { constants, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { create, type DescMethod, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { ENVELOPE_HEADER_BYTES, readUnaryMessage } from "./grpc-request.js";

/** A unary method's implementation, as a Connect service implementation has it. */
type UnaryImpl = (request: unknown, context: HandlerContext) => unknown;

export interface GrpcUnaryOptions {
  readonly service: DescService;
  /** The implementations by method local name, as given to Connect's router (methods left out are not served here). */
  readonly impl: object;
  /** The largest request message accepted, in bytes (Connect's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** Turns a failure into the error the caller gets: a ConnectError as it is, anything else INTERNAL (logged). */
  readonly refusal: (error: unknown, method: DescMethod) => ConnectError;
  /** Told how each call ended: the method, the gRPC code's name, and how long it took. */
  readonly completed: (method: DescMethod, code: string, seconds: number) => void;
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

const GRPC_CONTENT_TYPE = /^application\/grpc(\+proto)?$/i;
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The context's signal aborts when a call has ended, as Connect's does; one shared reason spares building an error per call. */
const CALL_ENDED = new Error("the call ended");

/**
 * gRPC unary calls over HTTP/2, answered without Connect's streaming
 * pipeline: the request's one message is read, parsed, handed to the same
 * implementation Connect's router has, and the answer is written as one
 * response (headers, one message, `grpc-status` trailers). This is what
 * gRPC clients (grpcio, grpc-go, Connect's gRPC transport) send, and for a
 * 100-item history page it takes about a third of the CPU time Connect's
 * generic path does. The handler returns false, touching nothing, for every
 * other request: gRPC-Web, Connect, JSON, HTTP/1.1, a compressed request, a
 * malformed `grpc-timeout`, an unknown path; Connect answers those.
 */
export function grpcUnaryHandler(options: GrpcUnaryOptions): (request: Request, response: Response) => boolean {
  const methods = new Map<string, { method: DescMethod; impl: UnaryImpl }>();
  for (const method of options.service.methods) {
    const impl = (options.impl as Record<string, unknown>)[method.localName];
    if (method.methodKind === "unary" && typeof impl === "function") {
      methods.set(`/${options.service.typeName}/${method.name}`, {
        method,
        impl: (impl as UnaryImpl).bind(options.impl),
      });
    }
  }
  return (request, response) => {
    if (request.httpVersionMajor !== 2 || request.method !== "POST") return false;
    const served = methods.get(request.url ?? "");
    if (served === undefined) return false;
    const headers = request.headers;
    if (!GRPC_CONTENT_TYPE.test(String(headers["content-type"] ?? ""))) return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const timeout = headers["grpc-timeout"];
    const timeoutMs = timeout === undefined ? undefined : timeoutMsOf(String(timeout));
    if (timeoutMs === null) return false;
    answer(options, served.method, served.impl, request, response as Http2ServerResponse, timeoutMs).catch(
      (error: unknown) => void options.refusal(error, served.method),
    );
    return true;
  };
}

async function answer(
  options: GrpcUnaryOptions,
  method: DescMethod,
  impl: UnaryImpl,
  request: Request,
  response: Http2ServerResponse,
  timeoutMs: number | undefined,
): Promise<void> {
  const started = performance.now();
  const stream = response.stream;
  let answered = false;
  const left = new AbortController();
  const onClose = () => {
    if (!answered) left.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  };
  stream.once("close", onClose);
  const context = createHandlerContext({
    service: method.parent,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: request.url ?? "",
    requestSignal: left.signal,
    requestHeader: requestHeadersOf(request),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  /** Headers, the message if there is one, then the status in trailers, as gRPC answers a unary call. */
  const reply = (status: Record<string, string>, frame?: Uint8Array) => {
    answered = true;
    // A client still sending (a request refused before it was read to its end) is stopped once the
    // trailers are out, as Connect does: Node sends them on setImmediate after 'wantTrailers'.
    stream.once("wantTrailers", () =>
      setImmediate(() => {
        if (!stream.destroyed && stream.state.remoteClose === 0) stream.close(constants.NGHTTP2_NO_ERROR);
      }),
    );
    response.writeHead(200, { ...headerRecord(context.responseHeader), "content-type": "application/grpc+proto" });
    response.addTrailers({ ...headerRecord(context.responseTrailer), ...status });
    if (frame === undefined) response.end();
    else response.end(frame);
  };
  let code = "OK";
  try {
    const message = await readUnaryMessage(request, options.readMaxBytes, (bytes) => fromBinary(method.input, bytes));
    const output = await impl(message, context);
    const bytes = toBinary(method.output, create(method.output, output as never));
    const frame = new Uint8Array(ENVELOPE_HEADER_BYTES + bytes.length);
    new DataView(frame.buffer).setUint32(1, bytes.length);
    frame.set(bytes, ENVELOPE_HEADER_BYTES);
    if (stream.destroyed) code = "Canceled";
    else reply({ "grpc-status": "0" }, frame);
  } catch (error) {
    const refusal = options.refusal(error, method);
    code = Code[refusal.code];
    if (!stream.destroyed) {
      reply({ "grpc-status": String(refusal.code), "grpc-message": encodeURIComponent(refusal.rawMessage) });
    }
  } finally {
    stream.off("close", onClose);
    context.abort(CALL_ENDED);
    options.completed(method, code, (performance.now() - started) / 1000);
  }
}

/**
 * A `grpc-timeout` value in ms; null when it is not one (Connect then refuses
 * it in its own words). A deadline past what a timer can hold (24.8 days) is
 * no deadline.
 */
function timeoutMsOf(value: string): number | null | undefined {
  const match = GRPC_TIMEOUT.exec(value);
  if (match === null) return null;
  const ms = Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
  return ms > MAX_TIMER_MS ? undefined : ms;
}

/** The request's headers as Connect hands them to an implementation: without HTTP/2 pseudo-headers. */
function requestHeadersOf(request: Request): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) out.append(name, one);
  }
  return out;
}

function headerRecord(headers: Headers): Record<string, string> {
  return Object.fromEntries(headers);
}
