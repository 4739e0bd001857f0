import { HttpStatusError } from "../http-status-error.js";
import { parseRetryAfter } from "../retry.js";

/** One server-sent event. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the event has none. */
  readonly type: string;
  /** The `data:` lines, joined by newlines. */
  readonly data: string;
}

export interface EventStreamOptions {
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Ends the stream; the returned promise then rejects with its reason. */
  readonly signal: AbortSignal;
  /** Fails the stream with a `TimeoutError` when no byte arrives for this long, in ms. */
  readonly idleTimeoutMs: number;
  /** Called for each event; what it throws ends the stream with that error. */
  readonly onEvent: (event: ServerSentEvent) => void;
}

/**
 * Reads one `text/event-stream` response until the server ends it (resolves)
 * or it fails (rejects). An HTTP error status rejects with an
 * {@link HttpStatusError} carrying `Retry-After`; an answer that is not an
 * event stream (a proxy's HTML page) with a `SyntaxError`. Reconnecting is
 * the caller's business: unlike an `EventSource`, nothing happens behind its back.
 */
export async function readEventStream(options: EventStreamOptions): Promise<void> {
  const { signal, idleTimeoutMs } = options;
  signal.throwIfAborted();
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => controller.abort(new DOMException(`no data for ${idleTimeoutMs} ms`, "TimeoutError")),
      idleTimeoutMs,
    );
  };
  try {
    arm();
    const headers = new Headers(options.headers);
    headers.set("accept", "text/event-stream");
    headers.set("cache-control", "no-cache");
    const response = await fetch(options.url, { headers, signal: controller.signal });
    if (!response.ok) {
      await response.body?.cancel();
      throw new HttpStatusError(
        response.status,
        response.statusText,
        parseRetryAfter(response.headers.get("retry-after")),
      );
    }
    const type = response.headers.get("content-type") ?? "";
    if (!/^text\/event-stream\b/i.test(type)) {
      await response.body?.cancel();
      throw new SyntaxError(`the answer is ${type === "" ? "without a content type" : type}, not an event stream`);
    }
    if (response.body === null) return;
    const parser = new EventParser(options.onEvent);
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      arm();
      parser.push(chunk);
    }
  } catch (error) {
    // Report the timeout or the caller's reason rather than what fetch made of the abort.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** The event-stream format: lines of `field: value`, an empty line ending each event. */
class EventParser {
  readonly #onEvent: (event: ServerSentEvent) => void;
  #pending = "";
  #data: string[] = [];
  #type = "";

  constructor(onEvent: (event: ServerSentEvent) => void) {
    this.#onEvent = onEvent;
  }

  push(chunk: string): void {
    let text = this.#pending + chunk;
    // A chunk ending in \r may be cut inside a \r\n: keep it until the next one tells.
    const held = text.endsWith("\r") ? "\r" : "";
    if (held) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    this.#pending = (lines.pop() as string) + held;
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (line === "") {
      const data = this.#data;
      const type = this.#type || "message";
      this.#data = [];
      this.#type = "";
      if (data.length > 0) this.#onEvent({ type, data: data.join("\n") });
      return;
    }
    if (line.startsWith(":")) return; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#type = value;
    // `id` and `retry` are not needed: the caller resumes from the last ledger it received, with its own backoff.
  }
}
