import { type Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { ConfigurationError } from "@tidemark/core";
import { HttpStatusError } from "../http-status-error.js";
import { parseRetryAfter } from "../retry.js";
import type { BlockBody } from "./block-body.js";
import type { BodyBuffers } from "./body-buffers.js";

/** How many 307/308 redirects to the same origin are followed before giving up. */
export const MAX_REDIRECTS = 3;

export interface HttpPost {
  readonly url: URL;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly agent: HttpAgent | HttpsAgent;
  readonly signal: AbortSignal;
  /** Told about every chunk of the answer's body as it arrives, in bytes. */
  readonly onBytes?: (bytes: number) => void;
  /** Where the body is read into, and outgrown buffers go back to (default: new buffers, the body's cut to size). */
  readonly buffers?: BodyBuffers;
  /** Names the request in errors, e.g. `Solana RPC getBlock(5)`; never the URL, which may carry a key. */
  readonly what: string;
}

/**
 * POSTs `body` with Node's HTTP client and returns the answer's body bytes,
 * still compressed (the reader decompresses them, off the main thread when
 * it can), as a view at the start of a buffer of their own that can be
 * transferred to a worker.
 * An error status throws {@link HttpStatusError} with its `Retry-After`;
 * a 307/308 to the same origin is followed (at most {@link MAX_REDIRECTS}),
 * any other redirect is a {@link ConfigurationError}: following it could
 * send the user's headers elsewhere, or turn the POST into a GET.
 */
export async function httpPost(post: HttpPost): Promise<BlockBody> {
  let url = post.url;
  for (let hop = 0; ; hop++) {
    const response = await send(post, url);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      response.resume();
      const location = response.headers.location;
      const next = location === undefined ? undefined : safeUrl(location, url);
      if ((status === 307 || status === 308) && next !== undefined && next.origin === url.origin) {
        if (hop < MAX_REDIRECTS) {
          url = next;
          continue;
        }
        throw new ConfigurationError(
          `${post.what}: the endpoint redirected more than ${MAX_REDIRECTS} times; give the final URL as the RPC URL`,
        );
      }
      throw new ConfigurationError(
        `${post.what}: the endpoint answered HTTP ${status} ${status === 307 || status === 308 ? "to another origin" : "(a redirect that would not keep the POST)"}; give the final URL as the RPC URL`,
      );
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw new HttpStatusError(status, response.statusMessage ?? "", parseRetryAfter(header(response, "retry-after")));
    }
    return {
      bytes: await readAll(response, post.onBytes, post.buffers),
      encoding: header(response, "content-encoding"),
    };
  }
}

function send(post: HttpPost, url: URL): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: "POST",
        agent: post.agent,
        signal: post.signal,
        headers: {
          ...post.headers,
          "content-type": "application/json",
          accept: "application/json",
          "accept-encoding": "gzip",
          "content-length": String(Buffer.byteLength(post.body)),
        },
      },
      resolve,
    );
    outgoing.on("error", reject);
    outgoing.end(post.body);
  });
}

/**
 * The whole body in one exclusively owned buffer (Buffer.concat may hand out
 * a slice of Node's shared pool, which cannot be transferred); a connection
 * that ends early rejects. Each chunk is copied in as it arrives, so no chunk
 * outlives its turn: megabytes a block, at dozens of blocks a second, are
 * otherwise garbage waiting for a collection. The buffer is sized by the
 * Content-Length, or grown when there is none (a compressed answer is
 * usually sent in chunks); from `buffers`, a reused one usually fits already.
 */
async function readAll(
  response: IncomingMessage,
  onBytes?: (bytes: number) => void,
  buffers?: BodyBuffers,
): Promise<Uint8Array> {
  const take = (bytes: number) => new Uint8Array(buffers ? buffers.take(bytes) : new ArrayBuffer(bytes));
  const declared = Number(response.headers["content-length"]);
  let body = take(Number.isSafeInteger(declared) && declared > 0 ? declared : 64 * 1024);
  let length = 0;
  try {
    for await (const chunk of response) {
      const bytes = chunk as Buffer;
      if (length + bytes.length > body.length) {
        // No (or a wrong) Content-Length: grow geometrically.
        const grown = take(Math.max(body.length * 2, length + bytes.length));
        grown.set(body.subarray(0, length));
        buffers?.give(body.buffer as ArrayBuffer);
        body = grown;
      }
      body.set(bytes, length);
      length += bytes.length;
      onBytes?.(bytes.length);
    }
    if (!response.complete) throw new Error("the connection closed before the whole answer arrived");
  } catch (error) {
    buffers?.give(body.buffer as ArrayBuffer);
    throw error;
  }
  // A reused buffer is kept whole for the next body; a new one is cut to size.
  return buffers || length === body.length ? body.subarray(0, length) : body.slice(0, length);
}

function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function safeUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}
