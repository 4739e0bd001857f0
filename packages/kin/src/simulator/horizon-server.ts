import type { IncomingMessage, ServerResponse } from "node:http";
import { applyTransportFault, type Fault, FaultInjector } from "./faults.js";
import { keepRecent, LoopbackServer, pause } from "./http.js";
import type { HorizonRecord, SimulatedLedger, StellarLedgers } from "./stellar-ledgers.js";

export interface HorizonServerOptions {
  readonly ledgers: StellarLedgers;
  /** The passphrase the root resource reports. */
  readonly networkPassphrase?: string;
  /** Delay added to every REST request, in ms (default 0). */
  readonly latencyMs?: number;
}

/**
 * A Horizon server on loopback over {@link StellarLedgers}: the REST
 * resources an ingestor reads (`/`, `/ledgers`, `/ledgers/{seq}`,
 * `/ledgers/{seq}/transactions`, `/transactions/{hash}`) as HAL JSON pages, and
 * `/ledgers` as a server-sent-events stream that resumes from `cursor` or
 * `Last-Event-ID` and pushes ledgers as they are appended. Faults are matched
 * on `"GET <path>"` or `"stream <path>"`.
 */
export class HorizonServer {
  readonly ledgers: StellarLedgers;
  readonly faults = new FaultInjector({ prefix: true });
  /** Delay added to every REST request, in ms. */
  latencyMs: number;
  /** When set, every event stream is closed after this many ledger events (a proxy cutting long requests). */
  streamDropAfter: number | null = null;
  readonly #passphrase: string;
  readonly #http: LoopbackServer;
  readonly #requests = new Map<string, number>();
  readonly #arrivals: { key: string; at: number }[] = [];
  readonly #closing = new AbortController();
  #streams = 0;

  private constructor(options: HorizonServerOptions) {
    this.ledgers = options.ledgers;
    this.latencyMs = options.latencyMs ?? 0;
    this.#passphrase = options.networkPassphrase ?? "Kin Mainnet ; December 2018";
    this.#http = new LoopbackServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      });
    });
  }

  static async start(options: HorizonServerOptions): Promise<HorizonServer> {
    const server = new HorizonServer(options);
    await server.#http.listen();
    return server;
  }

  get url(): string {
    return this.#http.url;
  }

  /** Requests whose `"GET <path>"` / `"stream <path>"` key starts with `prefix` (all without one). */
  requests(prefix = ""): number {
    let total = 0;
    for (const [key, count] of this.#requests) if (key.startsWith(prefix)) total += count;
    return total;
  }

  /**
   * When the requests whose `"GET <path>"` / `"stream <path>"` key starts with
   * `prefix` arrived, in `performance.now()` milliseconds, oldest first: the spacing of retries.
   */
  arrivals(prefix: string): number[] {
    return this.#arrivals.filter((a) => a.key.startsWith(prefix)).map((a) => a.at);
  }

  /** Event streams open right now. */
  get openStreams(): number {
    return this.#streams;
  }

  /** Cuts every open connection, event streams included. */
  dropConnections(): void {
    this.#http.dropConnections();
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.#http.close();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://horizon");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const streaming = (request.headers.accept ?? "").includes("text/event-stream");
    const key = `${streaming ? "stream" : "GET"} ${path}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#arrivals.push({ key, at: performance.now() });
    keepRecent(this.#arrivals);
    if (request.method !== "GET") {
      this.#problem(response, 405, "method_not_allowed");
      return;
    }
    const target = /^\/ledgers\/(\d+)/.exec(path)?.[1];
    const fault = this.faults.take(key, target === undefined ? undefined : Number(target));
    if (!streaming) await pause(this.latencyMs, this.#closing.signal);
    if (fault && (await this.#applyFault(fault, response))) return;

    if (path === "/ledgers" && streaming) return this.#streamLedgers(request, response, url, fault);
    let body: unknown;
    if (path === "/") body = this.#root();
    else if (path === "/ledgers") body = this.#ledgerPage(url);
    else if (/^\/ledgers\/\d+$/.test(path)) {
      const ledger = this.ledgers.get(Number(target));
      if (ledger === undefined) return this.#problem(response, 404, "not_found");
      body = ledger.record;
    } else if (/^\/ledgers\/\d+\/transactions$/.test(path)) {
      const ledger = this.ledgers.get(Number(target));
      if (ledger === undefined) return this.#problem(response, 404, "not_found");
      body = this.#transactionPage(url, path, ledger);
    } else if (/^\/transactions\/[0-9a-f]{64}$/.test(path)) {
      const hash = path.slice("/transactions/".length);
      const found = this.#findTransaction(hash);
      if (found === undefined) return this.#problem(response, 404, "not_found");
      body = found;
    } else return this.#problem(response, 404, "not_found");
    if (fault?.kind === "mutate") body = fault.mutate(body);
    response.writeHead(200, { "content-type": "application/hal+json; charset=utf-8" }).end(JSON.stringify(body));
  }

  #applyFault(fault: Fault, response: ServerResponse): Promise<boolean> {
    return applyTransportFault(fault, response, {
      errorContentType: "application/problem+json; charset=utf-8",
      errorBody: (status) => JSON.stringify({ status, title: "simulated fault" }),
      malformedContentType: "application/hal+json",
      malformedBody: '{"_embedded":{"records":[{"pag',
      closing: this.#closing.signal,
    });
  }

  #root(): HorizonRecord {
    const range = this.ledgers.range;
    return {
      horizon_version: "tidemark-simulator",
      core_version: "stellar-core (simulated)",
      history_latest_ledger: range?.last ?? 0,
      history_elder_ledger: range?.first ?? 0,
      core_latest_ledger: range?.last ?? 0,
      network_passphrase: this.#passphrase,
      current_protocol_version: 9,
    };
  }

  #ledgerPage(url: URL): HorizonRecord {
    const { order, limit, cursor } = pageParams(url);
    const after = cursor === null ? null : Number(BigInt(cursor) >> 32n);
    const records = this.ledgers.page(after, order, limit).map((l) => l.record);
    return page("/ledgers", order, limit, records);
  }

  #transactionPage(url: URL, path: string, ledger: SimulatedLedger): HorizonRecord {
    const { order, limit, cursor } = pageParams(url);
    const token = cursor === null ? null : BigInt(cursor);
    const sorted = order === "asc" ? ledger.transactions : [...ledger.transactions].reverse();
    const records = sorted
      .filter((tx) => {
        if (token === null) return true;
        const own = BigInt(tx.paging_token as string);
        return order === "asc" ? own > token : own < token;
      })
      .slice(0, limit);
    return page(path, order, limit, records);
  }

  #findTransaction(hash: string): HorizonRecord | undefined {
    const range = this.ledgers.range;
    if (range === null) return undefined;
    for (let s = range.first; s <= range.last; s++) {
      const found = this.ledgers.get(s)?.transactions.find((tx) => tx.hash === hash);
      if (found) return found;
    }
    return undefined;
  }

  #streamLedgers(request: IncomingMessage, response: ServerResponse, url: URL, fault: Fault | null): void {
    // Horizon resumes a stream from Last-Event-ID (sent by reconnecting clients) before the cursor parameter.
    const lastEventId = request.headers["last-event-id"];
    const cursor =
      typeof lastEventId === "string" && /^\d+$/.test(lastEventId) ? lastEventId : url.searchParams.get("cursor");
    let last: number | null;
    if (cursor === "now") last = this.ledgers.range?.last ?? null;
    else last = cursor === null || cursor === "" ? null : Number(BigInt(cursor) >> 32n);
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    response.write('retry: 1000\nevent: open\ndata: "hello"\n\n');
    this.#streams++;
    let sent = 0;
    // A fault on a stream spoils its first ledger event; the events after it are sent as usual.
    let spoil = fault?.kind === "mutate" || fault?.kind === "malformedEvent" ? fault : null;
    const send = () => {
      for (const ledger of this.ledgers.page(last, "asc", Number.MAX_SAFE_INTEGER)) {
        if (response.destroyed) return;
        let data = JSON.stringify(ledger.record);
        if (spoil?.kind === "mutate") data = JSON.stringify(spoil.mutate(structuredClone(ledger.record)));
        if (spoil?.kind === "malformedEvent") data = spoil.data ?? data.slice(0, data.length >> 1);
        spoil = null;
        response.write(`id: ${ledger.record.paging_token as string}\ndata: ${data}\n\n`);
        last = ledger.record.sequence as number;
        sent++;
        if (this.streamDropAfter !== null && sent >= this.streamDropAfter) {
          // Cut the stream once what was written has gone out, as a proxy timing out would.
          response.end();
          return;
        }
      }
    };
    const unsubscribe = this.ledgers.subscribe(() => send());
    response.once("close", () => {
      this.#streams--;
      unsubscribe();
    });
    send();
  }

  #problem(response: ServerResponse, status: number, type: string): void {
    response
      .writeHead(status, { "content-type": "application/problem+json; charset=utf-8" })
      .end(JSON.stringify({ type: `https://stellar.org/horizon-errors/${type}`, title: type, status }));
  }
}

function pageParams(url: URL): { order: "asc" | "desc"; limit: number; cursor: string | null } {
  const order = url.searchParams.get("order") === "desc" ? "desc" : "asc";
  const limit = Math.min(200, Math.max(1, Number(url.searchParams.get("limit") ?? 10) || 10));
  const raw = url.searchParams.get("cursor");
  const cursor = raw === null || raw === "" || !/^\d+$/.test(raw) ? null : raw;
  return { order, limit, cursor };
}

function page(path: string, order: "asc" | "desc", limit: number, records: readonly HorizonRecord[]): HorizonRecord {
  const first = records[0]?.paging_token ?? "";
  const last = records.at(-1)?.paging_token ?? "";
  const reverse = order === "asc" ? "desc" : "asc";
  return {
    _links: {
      self: { href: `${path}?cursor=&limit=${limit}&order=${order}` },
      next: { href: `${path}?cursor=${String(last)}&limit=${limit}&order=${order}` },
      prev: { href: `${path}?cursor=${String(first)}&limit=${limit}&order=${reverse}` },
    },
    _embedded: { records },
  };
}
