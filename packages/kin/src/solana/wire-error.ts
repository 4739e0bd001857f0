import { RpcResponseError } from "../errors.js";
import { JsonRpcError } from "./json-rpc-response.js";

/** An error as it crosses a worker boundary: structured cloning keeps no class, so the facts travel. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** {@link RpcResponseError.field}. */
  readonly field?: string;
  /** {@link JsonRpcError.code} and its server message. */
  readonly code?: number;
  readonly serverMessage?: string;
  /** A Node.js error code (a zlib one for a corrupt body, for example). */
  readonly errno?: string;
}

/** The facts of `error` that {@link fromWire} needs to rebuild it. */
export function toWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const base = { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  if (error instanceof RpcResponseError) return { ...base, field: error.field };
  if (error instanceof JsonRpcError) return { ...base, code: error.code, serverMessage: error.serverMessage };
  const errno = (error as NodeJS.ErrnoException).code;
  return typeof errno === "string" ? { ...base, errno } : base;
}

/**
 * The error a worker threw, rebuilt as the class the retry classifier knows
 * (RpcResponseError, JsonRpcError, SyntaxError), so a block read in a worker
 * is retried exactly as one read in-process.
 */
export function fromWire(wire: WireError): Error {
  let error: Error;
  if (wire.name === "RpcResponseError" && wire.field !== undefined) {
    error = new RpcResponseError(wire.message, wire.field);
  } else if (wire.name === "JsonRpcError" && wire.code !== undefined && wire.serverMessage !== undefined) {
    error = new JsonRpcError(wire.code, wire.serverMessage);
  } else if (wire.name === "SyntaxError") {
    error = new SyntaxError(wire.message);
  } else {
    error = new Error(wire.message);
    error.name = wire.name;
    if (wire.errno !== undefined) (error as NodeJS.ErrnoException).code = wire.errno;
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
