import { randomBytes } from "node:crypto";

/**
 * A part of an answer that is JSON already, as UTF-8 bytes, written into the
 * answer as is. `JSON.stringify` cannot take raw JSON for an object or array,
 * so the part stands in as a unique string until the answer is written.
 */
export class JsonText {
  static readonly #nonce = randomBytes(6).toString("hex");
  static #next = 0;
  readonly #mark = `@@json-text-${JsonText.#nonce}-${JsonText.#next++}@@`;

  constructor(readonly chunks: readonly Buffer[]) {}

  toJSON(): string {
    return this.#mark;
  }

  /** `value` with its JSON parts parsed, for faults that change an answer's objects. */
  static materialize(value: unknown): unknown {
    return JSON.parse(Buffer.concat(JsonText.serialize(value)).toString("utf8"));
  }

  /** `value` as JSON bytes, in chunks, with every JSON part of `value` written in. */
  static serialize(value: unknown): Buffer[] {
    const parts: JsonText[] = [];
    let text = JSON.stringify(value, function (this: unknown, key, item: unknown) {
      const holder = (this as Record<string, unknown>)[key];
      if (holder instanceof JsonText) parts.push(holder);
      return item;
    });
    if (parts.length === 0) return [Buffer.from(text)];
    const out: Buffer[] = [];
    for (const part of parts) {
      const mark = `"${part.#mark}"`;
      const at = text.indexOf(mark);
      out.push(Buffer.from(text.slice(0, at)), ...part.chunks);
      text = text.slice(at + mark.length);
    }
    out.push(Buffer.from(text));
    return out;
  }
}
