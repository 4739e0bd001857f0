/**
 * `check` run until it succeeds once: callers share one attempt in flight,
 * a failure is not remembered (an outage is retried on the next call, a
 * wrong schema reported again), a success is.
 */
export function untilSucceeded(check: () => Promise<void>): () => Promise<void> {
  let done = false;
  let inflight: Promise<void> | null = null;
  return () => {
    if (done) return Promise.resolve();
    inflight ??= check().then(
      () => {
        done = true;
        inflight = null;
      },
      (error: unknown) => {
        inflight = null;
        throw error;
      },
    );
    return inflight;
  };
}
