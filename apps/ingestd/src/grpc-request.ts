import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/** A gRPC envelope's header: a flags byte, then the message length (4 bytes, big-endian). */
export const ENVELOPE_HEADER_BYTES = 5;

/** A gRPC envelope found in a request body: its flags and where its message lies. */
interface Envelope {
  readonly flags: number;
  readonly start: number;
  readonly length: number;
}

/**
 * The one message of a unary gRPC request, read as Connect's gRPC handler
 * reads it, with its codes and words for every fault, checked in its order:
 * a declared size over `readMaxBytes` (as soon as an envelope's header
 * arrives), no message, a cut envelope, a compressed one (no `grpc-encoding`
 * was sent), a message that does not parse (`parse`), a second message.
 * Reading stops once the answer is known, so a client cannot push more than
 * two envelopes' worth. A client that resets the stream gets Canceled.
 */
export async function readUnaryMessage(
  request: IncomingMessage | Http2ServerRequest,
  readMaxBytes: number,
  parse: (message: Uint8Array) => unknown,
): Promise<unknown> {
  const body = await readEnvelopes(request, readMaxBytes);
  const envelopes = splitEnvelopes(body);
  const first = envelopes[0];
  if (first === undefined) {
    if (body.length === 0) {
      throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
    }
    throw incomplete();
  }
  const message = open(body, first, parse);
  const rest = first.start + first.length;
  if (body.length - rest >= ENVELOPE_HEADER_BYTES) {
    const declared = body.readUInt32BE(rest + 1);
    if (declared > readMaxBytes) throw tooLarge(declared, readMaxBytes);
  }
  const second = envelopes[1];
  if (second !== undefined) {
    open(body, second, parse);
    throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  }
  if (rest < body.length) throw incomplete();
  return message;
}

function open(bytes: Buffer, envelope: Envelope, parse: (message: Uint8Array) => unknown): unknown {
  if ((envelope.flags & 1) !== 0) {
    throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  }
  try {
    // A plain Uint8Array: the message's bytes fields are views of it, and a Buffer's slice() is a view too.
    return parse(new Uint8Array(bytes.buffer, bytes.byteOffset + envelope.start, envelope.length));
  } catch (error) {
    throw new ConnectError(`parse binary: ${(error as Error).message}`, Code.Internal);
  }
}

/** The complete envelopes at the start of `bytes`, at most two. */
function splitEnvelopes(bytes: Buffer): Envelope[] {
  const envelopes: Envelope[] = [];
  let at = 0;
  while (envelopes.length < 2 && bytes.length - at >= ENVELOPE_HEADER_BYTES) {
    const length = bytes.readUInt32BE(at + 1);
    if (bytes.length - at - ENVELOPE_HEADER_BYTES < length) break;
    envelopes.push({ flags: bytes[at] as number, start: at + ENVELOPE_HEADER_BYTES, length });
    at += ENVELOPE_HEADER_BYTES + length;
  }
  return envelopes;
}

/**
 * The request body, read until it ends, or until a second envelope's header
 * (or all of it) is in: what comes after cannot change the answer.
 */
function readEnvelopes(request: IncomingMessage | Http2ServerRequest, readMaxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let bytes: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      if (bytes.length < ENVELOPE_HEADER_BYTES) return;
      const first = bytes.readUInt32BE(1);
      if (first > readMaxBytes) {
        done();
        reject(tooLarge(first, readMaxBytes));
      } else if (bytes.length >= 2 * ENVELOPE_HEADER_BYTES + first) {
        const second = bytes.readUInt32BE(ENVELOPE_HEADER_BYTES + first + 1);
        if (second > readMaxBytes || bytes.length >= 2 * ENVELOPE_HEADER_BYTES + first + second) {
          done();
          resolve(bytes);
        }
      }
    };
    const onEnd = () => {
      done();
      resolve(bytes);
    };
    const onError = (error: Error) => {
      done();
      reject(new ConnectError(`reading the request failed: ${error.message}`, Code.Canceled));
    };
    // A stream the client reset before its end may report no 'end' or 'error'.
    const onClose = () => {
      done();
      reject(new ConnectError("the client cancelled the call", Code.Canceled));
    };
    const done = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.off("close", onClose);
    };
    request.on("data", onData);
    request.once("end", onEnd);
    request.once("error", onError);
    request.once("close", onClose);
  });
}

function tooLarge(size: number, readMaxBytes: number): ConnectError {
  return new ConnectError(
    `message size ${size} is larger than configured readMaxBytes ${readMaxBytes}`,
    Code.ResourceExhausted,
  );
}

function incomplete(): ConnectError {
  return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
}
