import type { ServerResponse } from "node:http";
import { pause, settled } from "./http.js";

/** Something a simulated server does instead of answering normally. */
export type Fault =
  /** Answer with this HTTP status (e.g. 429 with `retryAfter: "1"`, or 503). */
  | { readonly kind: "http"; readonly status: number; readonly retryAfter?: string; readonly body?: string }
  /** Destroy the connection without answering (a reset). */
  | { readonly kind: "reset" }
  /** Answer 200 with a body that is not JSON (default: cut-off JSON), e.g. a proxy's HTML page with `contentType: "text/html"`. */
  | { readonly kind: "malformed"; readonly body?: string; readonly contentType?: string }
  /** Never answer; the client must time out. */
  | { readonly kind: "hang" }
  /** Answer as usual, but only once `until` settles (or the server closes): a gate a test opens when it is ready. */
  | { readonly kind: "hold"; readonly until: Promise<unknown> }
  /** Answer with a JSON-RPC error (Solana only), e.g. -32007 slot skipped. */
  | { readonly kind: "rpcError"; readonly code: number; readonly message: string }
  /**
   * Answer with the normal result passed through `mutate` (a response of the wrong shape). On a
   * Horizon event stream: the first ledger event's record.
   */
  | { readonly kind: "mutate"; readonly mutate: (result: unknown) => unknown }
  /** Horizon event streams only: the first ledger event carries this `data` (default: cut-off JSON) instead. */
  | { readonly kind: "malformedEvent"; readonly data?: string };

/** When a fault applies. */
export interface FaultRule {
  readonly fault: Fault;
  /** Only requests of this JSON-RPC method (Solana, exact) or starting with this `"GET <path>"` / `"stream <path>"` key (Horizon). */
  readonly method?: string;
  /** Only requests about this slot or ledger. */
  readonly target?: bigint | number;
  /** How many matching requests it hits (default 1; Infinity for all). */
  readonly times?: number;
}

/** A registered fault: how often it hit so far. */
export interface FaultHandle {
  readonly hits: number;
  /** Stops it from hitting again. */
  remove(): void;
}

/** The faults a simulated server applies, first registered first. */
export class FaultInjector {
  readonly #rules: { rule: FaultRule; remaining: number; hits: number; removed: boolean }[] = [];
  readonly #prefix: boolean;

  /** `prefix`: match `method` as a prefix of the request key rather than exactly. */
  constructor(options: { prefix?: boolean } = {}) {
    this.#prefix = options.prefix ?? false;
  }

  add(rule: FaultRule): FaultHandle {
    const entry = { rule, remaining: rule.times ?? 1, hits: 0, removed: false };
    this.#rules.push(entry);
    return {
      get hits() {
        return entry.hits;
      },
      remove: () => {
        entry.removed = true;
      },
    };
  }

  /** The fault for this request, if any (consuming one of its uses). */
  take(method: string, target: bigint | number | undefined): Fault | null {
    for (const entry of this.#rules) {
      if (entry.removed || entry.remaining <= 0) continue;
      const { rule } = entry;
      if (rule.method !== undefined && (this.#prefix ? !method.startsWith(rule.method) : method !== rule.method))
        continue;
      if (rule.target !== undefined && (target === undefined || BigInt(rule.target) !== BigInt(target))) continue;
      entry.remaining--;
      entry.hits++;
      return rule.fault;
    }
    return null;
  }

  clear(): void {
    this.#rules.length = 0;
  }
}

/** How a protocol's server words the faults that replace a whole HTTP exchange. */
export interface TransportFaultStyle {
  /** Content type and default body of an `http` fault's error answer. */
  readonly errorContentType: string;
  readonly errorBody: (status: number) => string;
  /** Content type and default body of a `malformed` answer (cut-off JSON of the protocol's shape). */
  readonly malformedContentType: string;
  readonly malformedBody: string;
  /** Ends a `hang` when the server closes. */
  readonly closing: AbortSignal;
}

/**
 * Applies a fault that replaces the whole HTTP exchange (`http`, `reset`,
 * `malformed`, `hang`); returns false for faults the protocol applies to its
 * result instead, and for `hold` once it lets the request through.
 */
export async function applyTransportFault(
  fault: Fault,
  response: ServerResponse,
  style: TransportFaultStyle,
): Promise<boolean> {
  switch (fault.kind) {
    case "http": {
      const headers: Record<string, string> = { "content-type": style.errorContentType };
      if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
      response.writeHead(fault.status, headers).end(fault.body ?? style.errorBody(fault.status));
      return true;
    }
    case "reset":
      response.socket?.destroy();
      return true;
    case "malformed":
      response
        .writeHead(200, { "content-type": fault.contentType ?? style.malformedContentType })
        .end(fault.body ?? style.malformedBody);
      return true;
    case "hang":
      await pause(10 * 60_000, style.closing);
      response.socket?.destroy();
      return true;
    case "hold":
      await settled(fault.until, style.closing);
      if (!style.closing.aborted) return false;
      response.socket?.destroy();
      return true;
    default:
      return false;
  }
}
