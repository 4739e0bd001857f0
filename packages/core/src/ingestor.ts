import type { Pointer } from "./pointer.js";
import type { ResultQueue } from "./result.js";
import type { Writer } from "./writer.js";

/**
 * Follows one chain. `ingest` starts after `parent` (or at the chain's start
 * when it is null) and keeps going until `signal` aborts; the queue then ends
 * promptly and nothing keeps running.
 */
export interface Ingestor<E = unknown> {
  /** The name commits are stored under, e.g. `history_KIN4`. */
  readonly name: string;
  ingest(signal: AbortSignal, writer: Writer<E>, parent: Pointer | null): Promise<ResultQueue>;
  /** The chain's newest block, for lag reporting. */
  head?(signal: AbortSignal): Promise<Pointer>;
  /**
   * Resolves once every ended ingestion session has released what it held
   * (threads, connections). Sessions end when their signal aborts, as `run`
   * does when it returns; call it after `run` to know nothing is left behind.
   */
  close?(): Promise<void>;
}
