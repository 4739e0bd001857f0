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
      /**
       * True when the commit's own answer was lost (the lock was lost, or the request failed, with it
       * in flight) and `run` found it applied when it next read the stored pointer: reported late, once.
       */
      readonly late?: boolean;
    }
  | {
      /**
       * The stored pointer moved beyond what this run last knew: a commit of its own whose answer was
       * lost and cannot be told apart from later ones, or another node's commits while this one stood
       * by. Checked each time `run` reads the pointer to start ingesting, except the first.
       */
      readonly type: "reconciled";
      readonly ingestor: string;
      /**
       * The stored pointer as this run last knew it: the block of its last commit, or the pointer it
       * last read (null: nothing was stored).
       */
      readonly known: Pointer | null;
      /** The stored pointer now, beyond `known`. */
      readonly stored: Pointer;
      /** This run's commit whose outcome was unknown, if any: it may or may not be part of the move. */
      readonly unsettled: UnsettledCommit | null;
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

/** A commit `run` sent whose outcome it never heard. */
export interface UnsettledCommit {
  readonly parent: Pointer | null;
  readonly block: Pointer;
  readonly span: number;
}

/** Where in the loop an error happened. */
export type RunStage = "lock" | "unlock" | "fence" | "latest" | "ingest" | "result" | "commit";

export type RunEventListener = (event: RunEvent) => void;
