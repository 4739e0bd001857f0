import {
  castGrpcError,
  FilterType,
  type IDuplexStream,
  type ILeaseKeepAliveResponse,
  type IWatchResponse,
} from "etcd3";
import type { Connection } from "./connection.js";
import { showKey } from "./keys.js";

/**
 * Ends a gRPC stream for good. `end()` comes first: etcd3 resets every
 * connection to a host when a still-writable stream errors, and cancelling
 * errors the stream.
 */
function closeStream(stream: IDuplexStream<unknown, unknown>): void {
  try {
    stream.end();
  } catch {
    // Already ended.
  }
  stream.cancel();
}

/**
 * Resolves once `key` is deleted at or after `fromRevision`. Rejects when the
 * watch breaks (etcd restarting, compaction) so the caller can look again, or
 * with `signal.reason` when it aborts. Leaves no stream open either way.
 */
export async function watchDeletion(
  connection: Connection,
  key: Buffer,
  fromRevision: bigint,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const opening = connection.client.watchClient.watch();
  let stream: IDuplexStream<unknown, IWatchResponse>;
  try {
    stream = await opening;
  } catch (error) {
    throw castGrpcError(error as Error);
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      closeStream(stream);
      outcome();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    stream.on("data", (response: IWatchResponse) => {
      if (response.canceled) {
        const why = response.cancel_reason || `compacted at revision ${response.compact_revision}`;
        finish(() => reject(new Error(`watch of ${showKey(key)} canceled: ${why}`)));
      } else if (response.events.some((event) => event.type === "Delete")) {
        finish(resolve);
      }
    });
    stream.on("error", (error) => finish(() => reject(castGrpcError(error))));
    stream.on("end", () => finish(() => reject(new Error(`watch of ${showKey(key)} ended`))));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    stream.write({ create_request: { key, start_revision: fromRevision.toString(), filters: [FilterType.Noput] } });
  });
}

/** One keep-alive of `leaseId`, answered or failed within `timeoutMs`; `cancel` drops it at once. */
export function keepAliveOnce(
  connection: Connection,
  leaseId: string,
  timeoutMs: number,
): { readonly response: Promise<ILeaseKeepAliveResponse>; cancel(): void } {
  const state: { stream: IDuplexStream<unknown, ILeaseKeepAliveResponse> | null; settled: boolean } = {
    stream: null,
    settled: false,
  };
  let fail: (error: Error) => void = () => {};
  const response = new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
    const finish = (outcome: () => void) => {
      if (state.settled) return;
      state.settled = true;
      clearTimeout(timer);
      if (state.stream !== null) closeStream(state.stream);
      outcome();
    };
    fail = (error) => finish(() => reject(error));
    // Bounds opening the stream too (authentication included).
    const timer = setTimeout(
      () => fail(new Error(`keep-alive of lease ${leaseId} got no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    // The gRPC deadline comes later than the timer: a stream that errors while still open makes etcd3 reset the host's connections.
    connection.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs + 1000 }).then(
      (opened) => {
        state.stream = opened;
        if (state.settled) {
          closeStream(opened);
          return;
        }
        opened.on("data", (answer: ILeaseKeepAliveResponse) => finish(() => resolve(answer)));
        opened.on("error", (error) => fail(castGrpcError(error)));
        opened.on("end", () => fail(new Error(`keep-alive stream of lease ${leaseId} ended`)));
        opened.write({ ID: leaseId });
      },
      (error: unknown) => fail(error instanceof Error ? castGrpcError(error) : new Error(String(error))),
    );
  });
  response.catch(() => {});
  return { response, cancel: () => fail(new Error("keep-alive cancelled")) };
}
