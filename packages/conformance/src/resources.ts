/** Tracks what a test created so it can be closed even when the test fails half-way. */
export class Resources<T> {
  readonly #items: T[] = [];

  constructor(readonly close: (item: T) => void | Promise<void>) {}

  add<U extends T>(item: U): U {
    this.#items.push(item);
    return item;
  }

  async closeAll(): Promise<void> {
    const items = this.#items.splice(0);
    const failures: unknown[] = [];
    for (const item of items.reverse()) {
      try {
        await this.close(item);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, "closing test resources failed");
  }
}
