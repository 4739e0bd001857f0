import { type Committer, MemoryCommitState, MemoryCommitter, type Pointer, validateCommit } from "@tidemark/core";
import { describeCommitter } from "../../src/index.js";

/** A committer that writes every block it is given, whatever its parent: the kit must catch it. */
class ParentIgnoringCommitter implements Committer {
  readonly #inner: MemoryCommitter;
  readonly #state: MemoryCommitState;

  constructor(state: MemoryCommitState) {
    this.#inner = new MemoryCommitter({ state });
    this.#state = state;
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer): Promise<void> {
    validateCommit(ingestor, parent, block);
    this.#state.records.set(ingestor, { latest: Uint8Array.from(block), fence: null });
  }
  latest(ingestor: string): Promise<Pointer | null> {
    return this.#inner.latest(ingestor);
  }
  reset(ingestor: string, expected: Pointer | null, block: Pointer): Promise<void> {
    return this.#inner.reset(ingestor, expected, block);
  }
  async close(): Promise<void> {}
}

const commits = new MemoryCommitState();

describeCommitter("parent-ignoring", {
  create: () => new ParentIgnoringCommitter(commits),
  readRaw: async (ingestor) => commits.records.get(ingestor)?.latest ?? null,
});
