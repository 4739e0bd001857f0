import type { RunEvent } from "./events.js";

/**
 * Receives every run event; an implementation keeps whatever series it wants.
 * `@tidemark/core/prometheus` has one on `prom-client`.
 */
export interface Metrics {
  observe(event: RunEvent): void;
}
