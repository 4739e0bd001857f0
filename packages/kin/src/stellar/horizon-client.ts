import type { Horizon } from "@stellar/stellar-sdk";
import { ConfigurationError, type Logger } from "@tidemark/core";
import { describe } from "../describe.js";
import { KinRpcError, RpcResponseError } from "../errors.js";
import { notifySucceeded, type RequestListener } from "../request-listener.js";
import {
  type FailureVerdict,
  isTimeout,
  parseRetryAfter,
  type RetryOptions,
  withRetries,
  withTimeout,
} from "../retry.js";
import { notifyRetry, type RetryListener, statusKind } from "../retry-listener.js";
import { stellarSdk } from "./sdk.js";

export interface HorizonClientOptions {
  readonly url: string;
  readonly allowHttp: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly requestTimeoutMs: number;
  readonly retry: RetryOptions;
  readonly onRetry?: RetryListener;
  readonly onRequestSucceeded?: RequestListener;
  readonly logger: Logger;
}

/** A ledger as the ingestor needs it. */
export interface LedgerInfo {
  readonly sequence: number;
  readonly closedAt: Date;
  /** True when the ledger record itself says it holds no transaction (its page need not be fetched). */
  readonly empty: boolean;
}

/** A transaction record of a ledger, as the ingestor needs it. */
export interface TransactionInfo {
  readonly pagingToken: bigint;
  readonly envelopeXdr: Uint8Array;
  readonly resultXdr: Uint8Array;
}

/** The HTTP response behind an SDK error, which the SDK itself drops. */
interface SeenResponse {
  status: number;
  headers: Headers | Record<string, string> | undefined;
}

/** What a request's interceptors saw that the SDK does not tell. */
interface Seen {
  /** The error answer, with its status and headers. */
  response?: SeenResponse;
  /** A successful answer whose body was not JSON (the SDK hands such a body on as a string). */
  malformed?: boolean;
}

const CONFIGURATION_STATUSES = new Set([400, 401, 403, 405]);

/**
 * The Horizon calls of the Kin2/Kin3 ingestors on `@stellar/stellar-sdk`,
 * each with a timeout, retries and validated records.
 */
export class HorizonClient {
  readonly #options: HorizonClientOptions;

  constructor(options: HorizonClientOptions) {
    this.#options = options;
    // Fail at construction on a bad URL or an http URL without allowHttp, not at the first request.
    this.server();
  }

  get url(): string {
    return this.#options.url;
  }

  /** The extra HTTP headers of every request. */
  get headers(): Readonly<Record<string, string>> | undefined {
    return this.#options.headers;
  }

  /** The URL of a Horizon resource, e.g. `/ledgers`, under the server URL's own path. */
  resourceUrl(path: string, query: Readonly<Record<string, string>>): URL {
    const url = new URL(this.#options.url);
    url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`;
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  /**
   * A Horizon client. The SDK takes no per-request signal, so each request
   * gets its own client whose interceptors attach `signal` and remember the
   * HTTP status and headers (Retry-After) that the SDK's errors drop.
   */
  server(signal?: AbortSignal, seen?: Seen): Horizon.Server {
    let server: Horizon.Server;
    try {
      server = new (stellarSdk().Horizon.Server)(this.#options.url, {
        allowHttp: this.#options.allowHttp,
        ...(this.#options.headers ? { headers: { ...this.#options.headers } } : {}),
      });
    } catch (error) {
      throw new ConfigurationError(`Horizon ${this.#options.url}: ${(error as Error).message}`, { cause: error });
    }
    if (signal) server.httpClient.interceptors.request.use((config) => ({ ...config, signal }));
    if (seen) {
      server.httpClient.interceptors.response.use(
        (response) => {
          if (typeof response.data === "string" && !isJson(response.data)) seen.malformed = true;
          return response;
        },
        (error: { response?: SeenResponse }) => {
          if (error?.response) seen.response = { status: error.response.status, headers: error.response.headers };
          throw error;
        },
      );
    }
    return server;
  }

  /** The newest ledger Horizon has ingested. */
  latestLedger(signal: AbortSignal): Promise<number> {
    return this.#call("GET /ledgers?order=desc&limit=1", signal, async (server) => {
      const page = await server.ledgers().order("desc").limit(1).call();
      if (!Array.isArray(page.records)) {
        throw new RpcResponseError(
          `Horizon ${this.url}: /ledgers: _embedded.records must be an array, got ${describe(page.records)}`,
          "_embedded.records",
        );
      }
      const record = page.records[0];
      if (record === undefined)
        throw new RpcResponseError(`Horizon ${this.url}: /ledgers returned no ledger`, "_embedded.records");
      return parseLedger(record, "_embedded.records[0]", "GET /ledgers").sequence;
    });
  }

  /** One page of the transactions of `ledger` after `cursor`, ascending. */
  transactions(signal: AbortSignal, ledger: number, cursor: string, limit: number): Promise<TransactionInfo[]> {
    const what = `GET /ledgers/${ledger}/transactions?cursor=${cursor}`;
    return this.#call(what, signal, async (server) => {
      const builder = server.transactions().forLedger(ledger).order("asc").limit(limit);
      if (cursor !== "") builder.cursor(cursor);
      const page = await builder.call();
      if (!Array.isArray(page.records)) {
        throw new RpcResponseError(
          `Horizon ${what}: _embedded.records must be an array, got ${describe(page.records)}`,
          "_embedded.records",
        );
      }
      return page.records.map((record, i) => parseTransaction(record, `_embedded.records[${i}]`, what, ledger));
    });
  }

  #call<T>(what: string, signal: AbortSignal, attempt: (server: Horizon.Server) => Promise<T>): Promise<T> {
    const { requestTimeoutMs, retry, logger } = this.#options;
    let seen: Seen = {};
    return withRetries(
      {
        signal,
        options: retry,
        backend: "horizon",
        operation: what,
        classify: (error) => this.#classify(what, error, seen),
        exhausted: (error, attempts) =>
          new KinRpcError(
            `Horizon ${this.url} ${what} failed after ${attempts} attempts: ${describeFailure(error, seen)}`,
            what,
            attempts,
            { cause: error },
          ),
        onRetry: (info) => {
          notifyRetry(this.#options.onRetry, info, logger);
          // The failure goes in as text: the SDK's errors carry the whole response body.
          logger.warn(
            {
              backend: "horizon",
              request: what,
              kind: info.kind,
              attempt: info.attempt,
              delayMs: Math.round(info.delayMs),
              status: info.status,
              reason: describeFailure(info.error, seen),
            },
            "Horizon request failed; retrying",
          );
        },
        onSuccess: () =>
          notifySucceeded(this.#options.onRequestSucceeded, { backend: "horizon", operation: what }, logger),
      },
      () => {
        seen = {};
        return withTimeout(signal, requestTimeoutMs, (requestSignal) => attempt(this.server(requestSignal, seen)));
      },
    );
  }

  #classify(what: string, error: unknown, seen: Seen): FailureVerdict {
    if (seen.malformed) return { retry: true, kind: "malformed" };
    if (error instanceof RpcResponseError) return { retry: true, kind: "invalid" };
    if (isTimeout(error)) return { retry: true, kind: "timeout" };
    const response = seen.response;
    if (response === undefined) return { retry: true, kind: "network" }; // refused, reset, cut off
    const retryAfterMs = parseRetryAfter(header(response.headers, "retry-after"));
    if (CONFIGURATION_STATUSES.has(response.status)) {
      return {
        retry: false,
        error: new ConfigurationError(`Horizon ${this.url} ${what}: HTTP ${response.status}`, { cause: error }),
      };
    }
    return {
      retry: true,
      kind: statusKind(response.status),
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
}

/** Checks a ledger record from Horizon (REST or stream). */
export function parseLedger(record: unknown, field: string, what: string): LedgerInfo {
  const value = record as Record<string, unknown>;
  if (typeof value !== "object" || value === null)
    throw new RpcResponseError(`Horizon ${what}: ${field} must be a ledger record`, field);
  const sequence = value.sequence;
  if (typeof sequence !== "number" || !Number.isSafeInteger(sequence) || sequence < 1 || sequence > 0xffff_ffff) {
    throw new RpcResponseError(
      `Horizon ${what}: ${field}.sequence must be a ledger number, got ${describe(sequence)}`,
      `${field}.sequence`,
    );
  }
  const closedAt = typeof value.closed_at === "string" ? new Date(value.closed_at) : new Date(Number.NaN);
  if (Number.isNaN(closedAt.getTime())) {
    throw new RpcResponseError(
      `Horizon ${what}: ledger ${sequence} ${field}.closed_at must be a date, got ${describe(value.closed_at)}`,
      `${field}.closed_at`,
    );
  }
  // Newer Horizons count successful and failed transactions; older ones only `transaction_count`; a null count is unknown.
  const successful = value.successful_transaction_count;
  const failed = value.failed_transaction_count;
  const empty = (successful === 0 && failed === 0) || (successful === undefined && value.transaction_count === 0);
  return { sequence, closedAt, empty };
}

function parseTransaction(record: unknown, field: string, what: string, ledger: number): TransactionInfo {
  const value = record as Record<string, unknown>;
  const token = value?.paging_token;
  if (typeof token !== "string" || !/^\d+$/.test(token)) {
    throw new RpcResponseError(
      `Horizon ${what}: ${field}.paging_token must be a decimal string, got ${describe(token)}`,
      `${field}.paging_token`,
    );
  }
  const pagingToken = BigInt(token);
  if (pagingToken >> 32n !== BigInt(ledger)) {
    throw new RpcResponseError(
      `Horizon ${what}: ${field}.paging_token ${token} is not in ledger ${ledger}`,
      `${field}.paging_token`,
    );
  }
  return {
    pagingToken,
    envelopeXdr: base64Field(value.envelope_xdr, `${field}.envelope_xdr`, what),
    resultXdr: base64Field(value.result_xdr, `${field}.result_xdr`, what),
  };
}

function base64Field(value: unknown, field: string, what: string): Uint8Array {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length % 4 !== 0 ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(value)
  ) {
    throw new RpcResponseError(`Horizon ${what}: ${field} must be base64 XDR, got ${describe(value)}`, field);
  }
  return new Uint8Array(Buffer.from(value, "base64"));
}

function header(headers: SeenResponse["headers"], name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const found = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  return found?.[1];
}

function describeFailure(error: unknown, seen: Seen): string {
  const message = error instanceof Error ? error.message : String(error);
  if (seen.malformed) return `the body is not JSON (${message})`;
  return seen.response ? `HTTP ${seen.response.status} (${message})` : message;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
