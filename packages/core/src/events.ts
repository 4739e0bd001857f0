import type { Pointer } from "./pointer.js";

/** What `run` reports as it goes; the app turns these into metrics, logs and health endpoints. */
export type RunEvent =
  | { readonly type: "acquired"; readonly ingestor: string; readonly token: bigint | null }
  | { readonly type: "lost"; readonly ingestor: string; readonly reason: unknown }
  | { readonly type: "released"; readonly ingestor: string }
  | {
      readonly type: "committed";
      readonly ingestor: string;
      readonly parent: Pointer | null;
      readonly block: Pointer;
      /** How many blocks this one backend write covered (1 without coalescing). */
      readonly span: number;
    }
  | { readonly type: "conflict"; readonly ingestor: string; readonly error: unknown }
  | {
      readonly type: "restart";
      readonly ingestor: string;
      /** Consecutive failures so far. */
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: unknown;
    }
  | { readonly type: "error"; readonly ingestor: string; readonly stage: RunStage; readonly error: unknown };

/** Where in the loop an error happened. */
export type RunStage = "lock" | "unlock" | "fence" | "latest" | "ingest" | "result" | "commit";

export type RunEventListener = (event: RunEvent) => void;
