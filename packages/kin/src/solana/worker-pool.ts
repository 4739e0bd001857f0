import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ResourceLimits, type Transferable, Worker } from "node:worker_threads";
import { ConfigurationError, TidemarkError } from "@tidemark/core";

/** A worker thread died (threw outside a task, ran out of memory, exited) while it held a task. */
export class WorkerCrashedError extends TidemarkError {}

export interface WorkerPoolOptions {
  /** The worker script; it answers each message `{ id, ... }` with one message of the same `id`. */
  readonly script: URL;
  /** Threads at most; they start as tasks arrive. */
  readonly size: number;
  /** Names the pool in errors, e.g. "Kin4 block worker". */
  readonly name: string;
  readonly resourceLimits?: ResourceLimits;
}

interface Pending {
  readonly id: number;
  readonly message: object;
  readonly transfer: readonly Transferable[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

interface Thread {
  readonly worker: Worker;
  task: Pending | null;
  /** What the worker threw outside a task, if it did: the reason given when it exits. */
  crash: unknown;
}

/**
 * A pool of worker threads running one script, one task per thread at a time,
 * tasks queued in arrival order. A thread that dies fails only the task it
 * held, with a {@link WorkerCrashedError}, and is replaced by the next task.
 * Idle threads do not keep the process alive. `close` waits for the running
 * tasks, then terminates every thread.
 */
export class WorkerPool<R extends { readonly id: number }> {
  readonly #options: WorkerPoolOptions;
  readonly #threads = new Set<Thread>();
  readonly #idle: Thread[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 0;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  constructor(options: WorkerPoolOptions) {
    if (!existsSync(fileURLToPath(options.script))) {
      throw new ConfigurationError(
        `${options.name}: the worker script ${fileURLToPath(options.script)} is missing (is the package built?)`,
      );
    }
    this.#options = options;
  }

  /** Threads alive now. */
  get threads(): number {
    return this.#threads.size;
  }

  /**
   * Runs one task: `message` gets an `id` and goes to a free thread with
   * `transfer` moved, not copied. A task still queued when `signal` aborts is
   * dropped (rejecting with the reason); a running one is waited for.
   */
  run(message: object, transfer: readonly Transferable[], signal: AbortSignal): Promise<R> {
    if (this.#closing !== null) return Promise.reject(new Error(`${this.#options.name} pool is closed`));
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      const pending: Pending = {
        id: this.#nextId++,
        message,
        transfer,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
        onAbort: () => {
          const at = this.#queue.indexOf(pending);
          if (at < 0) return;
          this.#queue.splice(at, 1);
          reject(signal.reason);
          this.#checkDrained();
        },
      };
      signal.addEventListener("abort", pending.onAbort, { once: true });
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  /** Refuses new tasks, waits for those running, then terminates every thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const pending of this.#queue.splice(0)) {
        pending.signal.removeEventListener("abort", pending.onAbort);
        pending.reject(new Error(`${this.#options.name} pool closed before the task ran`));
      }
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        this.#checkDrained();
      });
      await Promise.all([...this.#threads].map((thread) => thread.worker.terminate()));
    })();
    return this.#closing;
  }

  #checkDrained(): void {
    if (this.#drained === null) return;
    for (const thread of this.#threads) if (thread.task !== null) return;
    this.#drained();
    this.#drained = null;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const thread = this.#idle.pop() ?? (this.#threads.size < this.#options.size ? this.#spawn() : undefined);
      if (thread === undefined) return;
      const pending = this.#queue.shift() as Pending;
      pending.signal.removeEventListener("abort", pending.onAbort);
      thread.task = pending;
      thread.worker.ref();
      thread.worker.postMessage({ ...pending.message, id: pending.id }, pending.transfer as Transferable[]);
    }
  }

  #spawn(): Thread {
    const worker = new Worker(this.#options.script, {
      ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
    });
    const thread: Thread = { worker, task: null, crash: undefined };
    this.#threads.add(thread);
    worker.on("message", (result: R) => {
      const task = thread.task;
      if (task === null || result.id !== task.id) return;
      thread.task = null;
      worker.unref();
      task.resolve(result);
      if (this.#closing === null) this.#idle.push(thread);
      this.#checkDrained();
      this.#dispatch();
    });
    worker.on("error", (error) => {
      thread.crash = error;
    });
    worker.on("exit", (code) => {
      this.#threads.delete(thread);
      const idle = this.#idle.indexOf(thread);
      if (idle >= 0) this.#idle.splice(idle, 1);
      const task = thread.task;
      thread.task = null;
      if (task !== null) {
        const why = thread.crash instanceof Error ? thread.crash.message : `it exited with code ${code}`;
        task.reject(
          new WorkerCrashedError(`${this.#options.name} thread died during a task: ${why}`, { cause: thread.crash }),
        );
      }
      this.#checkDrained();
      if (this.#closing === null) this.#dispatch();
    });
    return thread;
  }
}
