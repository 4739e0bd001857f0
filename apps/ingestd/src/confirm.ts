import { createInterface } from "node:readline";

export interface ConfirmOptions {
  /** What the operator must type, exactly (surrounding spaces aside). */
  readonly expected: string;
  /** Where the answer is read from: a terminal in the CLI, any stream in tests. */
  readonly input: NodeJS.ReadableStream;
  /** Shows the prompt (on stderr in the CLI, so stdout stays the command's output). */
  readonly write: (text: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Asks the operator to type `expected` and resolves true only if the first
 * line typed is exactly that. The end of input, an abort or anything else
 * typed declines.
 */
export function confirmByTyping({ expected, input, write, signal }: ConfirmOptions): Promise<boolean> {
  write(`type the chain name (${expected}) to confirm, anything else cancels:`);
  const lines = createInterface({ input, terminal: false });
  return new Promise<boolean>((resolve) => {
    const settle = (answer: boolean) => {
      signal?.removeEventListener("abort", onAbort);
      lines.removeAllListeners();
      lines.close();
      resolve(answer);
    };
    const onAbort = () => settle(false);
    if (signal?.aborted) return settle(false);
    signal?.addEventListener("abort", onAbort, { once: true });
    lines.once("line", (line) => settle(line.trim() === expected));
    lines.once("close", () => settle(false));
  });
}
