import { sleep } from "./abort.js";
import { backoffDelay, withJitter } from "./backoff.js";
import type { Committer } from "./committer.js";
import {
  ConfigurationError,
  InvalidArgumentError,
  InvalidCommitError,
  isTidemarkError,
  LockLostError,
} from "./errors.js";
import type { RunEvent, RunEventListener, RunStage, UnsettledCommit } from "./events.js";
import type { Ingestor } from "./ingestor.js";
import type { DistributedLock, Lease } from "./lock.js";
import { type Logger, silentLogger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { assertPointer, comparePointers, type Pointer, pointersEqual, pointerToHex } from "./pointer.js";
import { SettledBatchReader } from "./settled-batch-reader.js";
import type { Writer } from "./writer.js";

export interface RunOptions<E> {
  /** Aborting it stops `run`: it releases the lock and rejects with the abort reason. */
  readonly signal: AbortSignal;
  readonly lock: DistributedLock;
  readonly committer: Committer;
  readonly writer: Writer<E>;
  readonly ingestor: Ingestor<E>;
  /** Resolve once this pointer (or a later one) is committed. */
  readonly until?: Pointer;
  /** Commit runs of already-settled results as one compare-and-swap (default true). */
  readonly coalesce?: boolean;
  /** The most blocks one coalesced commit may cover (default 1024). */
  readonly maxCommitSpan?: number;
  /**
   * Pause between failed lock attempts, in ms (default 1000, ±10 % jitter). Short, so a node takes the
   * lock soon after its backend answers again; an attempt against a dead backend costs a request timeout anyway.
   */
  readonly lockRetryMs?: number;
  /** First restart delay after an ingestion failure, in ms (default 500, doubling). */
  readonly restartInitialMs?: number;
  /** Cap of the restart delay, in ms (default 10000). */
  readonly restartMaxMs?: number;
  /** How long a commit already sent may still finish after `signal` aborts, in ms (default 5000). */
  readonly commitGraceMs?: number;
  /** Consecutive failures after which the lock is released and re-acquired (default 5). */
  readonly maxConsecutiveFailures?: number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly onEvent?: RunEventListener;
}

type HoldingOutcome = "release" | "done";

/**
 * Follows `ingestor` while holding `lock`, committing each block strictly in
 * chain order through `committer`. Retries on its own; rejects only when
 * `signal` aborts (with its reason) or on a fatal `ConfigurationError` /
 * `InvalidArgumentError`, in both cases after releasing the lock.
 */
export async function run<E>(options: RunOptions<E>): Promise<void> {
  const loop = new RunLoop(options);
  return loop.run();
}

class RunLoop<E> {
  readonly #o: RunOptions<E>;
  readonly #name: string;
  readonly #log: Logger;
  readonly #maxSpan: number;
  #failures = 0;
  /** Consecutive holdings that ended without committing anything; they back off before re-acquiring. */
  #idleHoldings = 0;
  #committedThisHolding = false;
  /** The stored pointer as this run last knew it (its last commit or its last read); undefined before the first read. */
  #known: Pointer | null | undefined = undefined;
  /** A commit sent whose answer never came (lost lock, failed request): the next read of the pointer settles it. */
  #unsettled: UnsettledCommit | null = null;

  constructor(options: RunOptions<E>) {
    if (!(options.signal instanceof AbortSignal)) throw new InvalidArgumentError("run: signal must be an AbortSignal");
    for (const part of ["lock", "committer", "writer", "ingestor"] as const) {
      if (options[part] == null) throw new InvalidArgumentError(`run: ${part} is required`);
    }
    if (options.until !== undefined) assertPointer(options.until, "run: until");
    const maxSpan = options.maxCommitSpan ?? 1024;
    if (!Number.isInteger(maxSpan) || maxSpan < 1) {
      throw new InvalidArgumentError(`run: maxCommitSpan must be a positive integer, got ${maxSpan}`);
    }
    this.#o = options;
    this.#name = options.ingestor.name;
    this.#log = options.logger ?? silentLogger;
    this.#maxSpan = options.coalesce === false ? 1 : maxSpan;
  }

  async run(): Promise<void> {
    const { signal } = this.#o;
    while (true) {
      signal.throwIfAborted();
      const lease = await this.#acquire();
      let outcome: HoldingOutcome;
      this.#committedThisHolding = false;
      try {
        outcome = await this.#hold(lease);
      } finally {
        await this.#release();
      }
      if (outcome === "done") return;
      // A holding that achieved nothing (a queue that ends at once, a repeated conflict) must not
      // turn into a hot loop against the lock and the chain; a productive one goes on at once.
      this.#idleHoldings = this.#committedThisHolding ? 0 : this.#idleHoldings + 1;
      const pauseMs =
        this.#idleHoldings === 0
          ? 0
          : backoffDelay(this.#idleHoldings, {
              initialMs: this.#o.restartInitialMs ?? 500,
              maxMs: this.#o.restartMaxMs ?? 10_000,
            });
      // Even without a pause, give timers (heartbeats, signal handlers) a turn.
      await sleep(pauseMs, signal);
    }
  }

  async #acquire(): Promise<Lease> {
    const { signal, lock } = this.#o;
    while (true) {
      try {
        const lease = await lock.lock(signal);
        if (lease.signal.aborted) {
          throw new LockLostError(`the lock handed out a lease that was already lost: ${String(lease.signal.reason)}`);
        }
        this.#failures = 0;
        this.#emit({ type: "acquired", ingestor: this.#name, token: lease.token });
        this.#log.debug({ ingestor: this.#name, token: lease.token?.toString() ?? null }, "lock acquired");
        return lease;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (isFatal(error)) throw error;
        this.#reportError("lock", error);
        await sleep(withJitter(this.#o.lockRetryMs ?? 1000, 0.1), signal);
      }
    }
  }

  async #release(): Promise<void> {
    try {
      await this.#o.lock.unlock();
      this.#emit({ type: "released", ingestor: this.#name });
    } catch (error) {
      this.#reportError("unlock", error);
    }
  }

  /** Ingests while the lease holds. Returns why holding ended; throws only fatal errors and aborts. */
  async #hold(lease: Lease): Promise<HoldingOutcome> {
    const { signal, committer } = this.#o;
    const holding = AbortSignal.any([signal, lease.signal]);
    let fenced = committer.fence === undefined;
    while (true) {
      let stage: RunStage = "fence";
      try {
        if (lease.signal.aborted) throw lease.signal.reason;
        if (!fenced) {
          await committer.fence?.(this.#name, lease, { signal: holding });
          fenced = true;
        }
        stage = "latest";
        const latest = await committer.latest(this.#name, { signal: holding });
        this.#reconcile(latest);
        if (this.#reached(latest)) return "done";
        stage = "ingest";
        const ended = await this.#ingest(lease, holding, latest);
        if (ended === "done") return "done";
        // A queue that ends hands the lock back, as the original did, so another node may go on.
        this.#log.info({ ingestor: this.#name }, "result queue ended; releasing the lock");
        return "release";
      } catch (thrown) {
        if (signal.aborted) throw signal.reason;
        const error = thrown instanceof StageError ? thrown.cause : thrown;
        if (thrown instanceof StageError) stage = thrown.stage;
        if (lease.signal.aborted || isTidemarkError(error, LockLostError)) {
          const reason = lease.signal.aborted ? lease.signal.reason : error;
          this.#emit({ type: "lost", ingestor: this.#name, reason });
          this.#log.warn({ ingestor: this.#name, err: reason }, "lock lost; stopping ingestion");
          return "release";
        }
        if (isFatal(error)) throw error;
        if (isTidemarkError(error, InvalidCommitError)) {
          // A compare-and-swap that failed wrote nothing.
          this.#unsettled = null;
          this.#emit({ type: "conflict", ingestor: this.#name, error });
          this.#log.warn({ ingestor: this.#name, err: error }, "commit conflict; releasing the lock to start over");
          return "release";
        }
        this.#reportError(stage, error);
        this.#failures++;
        if (this.#failures >= (this.#o.maxConsecutiveFailures ?? 5)) {
          this.#log.warn({ ingestor: this.#name, failures: this.#failures }, "too many failures; releasing the lock");
          this.#failures = 0;
          return "release";
        }
        const delayMs = backoffDelay(this.#failures, {
          initialMs: this.#o.restartInitialMs ?? 500,
          maxMs: this.#o.restartMaxMs ?? 10_000,
        });
        this.#emit({ type: "restart", ingestor: this.#name, attempt: this.#failures, delayMs, error });
        try {
          await sleep(delayMs, holding);
        } catch {
          if (signal.aborted) throw signal.reason;
          this.#emit({ type: "lost", ingestor: this.#name, reason: lease.signal.reason });
          return "release";
        }
      }
    }
  }

  /** One ingestion session: start the ingestor after `latest`, commit its results in order. */
  async #ingest(lease: Lease, holding: AbortSignal, latest: Pointer | null): Promise<"ended" | "done"> {
    const { ingestor, writer } = this.#o;
    // The session's own signal bounds the queue's lifetime: a restart must not leave the old one running.
    const session = new AbortController();
    const sessionSignal = AbortSignal.any([holding, session.signal]);
    let reader: SettledBatchReader | null = null;
    try {
      const queue = await ingestor.ingest(sessionSignal, writer, latest);
      reader = new SettledBatchReader(queue, this.#maxSpan);
      while (true) {
        const batch = await reader.next(holding, (result) => this.#reached(result.block));
        const first = batch.results[0];
        const last = batch.results.at(-1);
        if (first !== undefined && last !== undefined) {
          holding.throwIfAborted();
          const sent = { parent: first.parent, block: last.block, span: batch.results.length };
          this.#unsettled = sent;
          try {
            await this.#commit(first.parent, last.block, lease);
          } catch (error) {
            throw new StageError("commit", error);
          }
          this.#failures = 0;
          this.#committed(sent, false);
          this.#log.debug(
            { ingestor: this.#name, parent: pointerToHex(first.parent), block: pointerToHex(last.block) },
            "committed",
          );
          if (this.#reached(last.block)) return "done";
        }
        if (batch.failure) throw new StageError("result", batch.failure.error);
        if (batch.ended) return "ended";
      }
    } finally {
      session.abort(new Error("ingestion session ended"));
      reader?.close();
    }
  }

  /**
   * One commit. A lost lease aborts it at once, but a shutdown lets a commit
   * already sent finish (up to `commitGraceMs`): the backend may have applied
   * it, and events, logs and metrics should say so.
   */
  async #commit(parent: Pointer | null, block: Pointer, lease: Lease): Promise<void> {
    const { signal, committer } = this.#o;
    const grace = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onStop = () => {
      timer = setTimeout(() => grace.abort(signal.reason), this.#o.commitGraceMs ?? 5000);
    };
    signal.addEventListener("abort", onStop, { once: true });
    try {
      await committer.commit(this.#name, parent, block, {
        signal: AbortSignal.any([lease.signal, grace.signal]),
        lease,
      });
    } finally {
      signal.removeEventListener("abort", onStop);
      clearTimeout(timer);
    }
  }

  #committed(commit: UnsettledCommit, late: boolean): void {
    this.#unsettled = null;
    this.#known = commit.block;
    this.#committedThisHolding = true;
    const { parent, block, span } = commit;
    this.#emit({ type: "committed", ingestor: this.#name, parent, block, span, ...(late ? { late } : {}) });
  }

  /**
   * Compares a fresh read of the stored pointer with what this run last knew. A commit whose answer
   * was lost counts as applied when the pointer is exactly its block, as committers settle a retried
   * commit; any other move forward is reported as is, since nothing tells whose commits it holds.
   */
  #reconcile(stored: Pointer | null): void {
    const known = this.#known;
    const unsettled = this.#unsettled;
    this.#known = stored;
    this.#unsettled = null;
    if (stored === null || known === undefined) return;
    if (unsettled !== null && pointersEqual(stored, unsettled.block)) {
      this.#committed(unsettled, true);
      this.#log.info(
        { ingestor: this.#name, parent: pointerToHex(unsettled.parent), block: pointerToHex(unsettled.block) },
        "a commit whose answer was lost had been applied; counted now",
      );
      return;
    }
    if (known !== null && comparePointers(stored, known) <= 0) return;
    this.#emit({ type: "reconciled", ingestor: this.#name, known, stored, unsettled });
    this.#log.info(
      {
        ingestor: this.#name,
        known: pointerToHex(known),
        stored: pointerToHex(stored),
        unsettled: unsettled === null ? null : pointerToHex(unsettled.block),
      },
      "the stored pointer moved beyond what this node knew (another node's commits, or its own whose answer was lost)",
    );
  }

  #reached(pointer: Pointer | null): boolean {
    const { until } = this.#o;
    return until !== undefined && pointer !== null && comparePointers(pointer, until) >= 0;
  }

  #reportError(stage: RunStage, error: unknown): void {
    this.#emit({ type: "error", ingestor: this.#name, stage, error });
    this.#log.warn({ ingestor: this.#name, stage, err: error }, `${stage} failed`);
  }

  #emit(event: RunEvent): void {
    // Each listener on its own: a failing metrics sink must not starve the app's event handler.
    for (const listener of [this.#o.metrics?.observe.bind(this.#o.metrics), this.#o.onEvent]) {
      try {
        listener?.(event);
      } catch (error) {
        this.#log.error({ ingestor: this.#name, err: error }, "run event listener threw");
      }
    }
  }
}

/** Tags an error with the loop stage it came from, for events and logs. */
class StageError extends Error {
  constructor(
    readonly stage: RunStage,
    override readonly cause: unknown,
  ) {
    super(`${stage} failed`, { cause });
  }
}

function isFatal(error: unknown): boolean {
  return isTidemarkError(error, ConfigurationError) || isTidemarkError(error, InvalidArgumentError);
}
