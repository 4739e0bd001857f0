import type { Logger } from "@tidemark/core";

/** What a command opened, closed in reverse order on the way out. */
export type CleanupStep = () => Promise<void> | void;

/** Runs `steps` newest first; one that fails is logged and the rest still run. */
export async function runCleanups(steps: CleanupStep[], logger: Logger): Promise<void> {
  for (const step of steps.reverse()) {
    try {
      await step();
    } catch (error) {
      logger.warn({ err: error }, "cleanup step failed");
    }
  }
}
