import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "@tidemark/core";
import { Counter, Histogram, type Registry } from "prom-client";

/** The method label of requests for a path no method serves (kept out of the label so it stays bounded). */
export const UNKNOWN_METHOD = "unknown";

// What the call's implementation ended with, when it ran; set by the interceptor, read when the call ends.
const outcome = createContextKey<string | undefined>(undefined, { description: "tidemark serve outcome" });

/**
 * `tidemark_serve_requests{method,code}` and
 * `tidemark_serve_request_seconds{method}`: every RPC counted once by its
 * gRPC status name (`OK`, `InvalidArgument`, `Unimplemented`, …), including
 * requests refused before the method ran (a body that does not decode, an
 * unknown method), timed from its headers to its response.
 */
export class ServeMetrics {
  readonly #requests: Counter<"method" | "code">;
  readonly #seconds: Histogram<"method">;
  readonly #logger: Logger;

  constructor(registry: Registry, methods: readonly string[], logger: Logger) {
    this.#logger = logger;
    this.#requests = new Counter({
      name: "tidemark_serve_requests",
      help: "RPCs answered by tidemark serve, by method and gRPC status code name.",
      labelNames: ["method", "code"],
      registers: [registry],
    });
    this.#seconds = new Histogram({
      name: "tidemark_serve_request_seconds",
      help: "Time from an RPC's headers to its response, by method.",
      labelNames: ["method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    // Series exist from the start, so a rate over a fresh server reads 0, not nothing.
    for (const method of methods) {
      this.#requests.inc({ method, code: "OK" }, 0);
      this.#seconds.zero({ method });
    }
  }

  /**
   * Connect's request gate: runs once per call, before its body is read. The
   * call's context is aborted exactly once when the call ends (with the error
   * when it failed), which is when it is counted.
   */
  readonly requestGate = (context: HandlerContext): void => {
    const started = performance.now();
    const method = context.method.name;
    const done = () => {
      const code = context.values.get(outcome) ?? reasonCode(context.signal.reason);
      this.record(method, code, (performance.now() - started) / 1000, "connect");
    };
    if (context.signal.aborted) done();
    else context.signal.addEventListener("abort", done, { once: true });
  };

  /** Records what the method ended with; an error that is not a ConnectError leaves only as a generic internal error. */
  readonly interceptor: Interceptor = (next) => async (request) => {
    try {
      const response = await next(request);
      request.contextValues.set(outcome, "OK");
      return response;
    } catch (error) {
      const refusal = this.refusal(error, request.method);
      request.contextValues.set(outcome, Code[refusal.code]);
      throw refusal;
    }
  };

  /**
   * What a failed call answers: a ConnectError as it is. The service turns
   * its own failures into ConnectErrors; anything else is a defect, logged,
   * never shown, and answered as a generic internal error.
   */
  readonly refusal = (error: unknown, method: { readonly name: string }): ConnectError => {
    if (error instanceof ConnectError) return error;
    this.#logger.error({ err: error, method: method.name }, "serve: unexpected error");
    return new ConnectError("internal error", Code.Internal);
  };

  /** Records a call answered outside Connect's router (see `grpc-unary.ts`). */
  readonly completed = (method: { readonly name: string }, code: string, seconds: number): void => {
    this.record(method.name, code, seconds, "grpc");
  };

  /** A request for a path that names no method this server has. */
  unknownMethod(seconds: number): void {
    this.record(UNKNOWN_METHOD, "Unimplemented", seconds, "fallback");
  }

  /** `via` is the path that answered (Connect's router, the plain gRPC path, or the unknown-method answer), for debug logs. */
  record(method: string, code: string, seconds: number, via: "connect" | "grpc" | "fallback"): void {
    this.#requests.inc({ method, code });
    this.#seconds.observe({ method }, seconds);
    this.#logger.debug({ method, code, ms: Math.round(seconds * 1e5) / 100, via }, "serve: request");
  }
}

/** The status of a call that ended before its method ran: the refusal's code, or Canceled when the client left. */
function reasonCode(reason: unknown): string {
  return reason instanceof ConnectError ? Code[reason.code] : "Canceled";
}
