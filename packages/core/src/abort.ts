/** Resolves after `ms`, or rejects with `signal.reason` as soon as it aborts; never leaves a timer behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles like `promise`, or rejects with `signal.reason` when the signal aborts
 * first. The promise itself keeps running; its outcome is then ignored.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** True when `error` is the reason `signal` aborted with (or any abort once it has). */
export function isAbortFrom(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (error === signal.reason || (error instanceof Error && error.name === "AbortError"));
}

/**
 * Runs `operation` with a signal that aborts after `ms` (with a timeout error
 * naming `what`) or when `parent` aborts. Unlike `AbortSignal.any`, it leaves
 * no listener on `parent` and no timer behind once `operation` settles, so a
 * long-lived parent does not collect one per call.
 */
export async function withDeadline<T>(
  what: string,
  ms: number,
  parent: AbortSignal | undefined,
  operation: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DeadlineError(`${what} timed out after ${Math.round(ms)} ms`)),
    ms,
  );
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  try {
    // Raced as well as signalled: a store that ignores its signal still cannot hold the caller past the deadline.
    return await raceAbort(operation(controller.signal), controller.signal);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onAbort);
  }
}

/** A request took longer than its deadline; whether it was applied is unknown. */
export class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}
