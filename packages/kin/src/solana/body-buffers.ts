// A body is allocated a little larger than asked, so the next block, a few bytes longer, fits it too.
const HEADROOM = 1 / 16;
const ROUND_TO = 64 * 1024;

/**
 * Buffers that getBlock bodies are read into, handed back once a body is read
 * and handed out again. A mainnet body is megabytes: allocated afresh for each
 * block, such buffers outlive the young generation while they are fetched and
 * read, and pile up until a full collection, tens of MB at a time. Reused,
 * they stay as many as the blocks in flight. At most `maxFreeBytes` wait to
 * be reused; past that a returned buffer is left to the collector.
 */
export class BodyBuffers {
  readonly #maxFreeBytes: number;
  readonly #free: ArrayBuffer[] = [];
  #freeBytes = 0;
  #allocatedBytes = 0;
  // Those handed out, so only they are ever transferred to a worker or taken back.
  readonly #ours = new WeakSet<ArrayBuffer>();

  constructor(maxFreeBytes: number) {
    this.#maxFreeBytes = maxFreeBytes;
  }

  /** Bytes waiting to be reused. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** Bytes of all the buffers ever allocated: it stops growing once bodies are read into reused ones. */
  get allocatedBytes(): number {
    return this.#allocatedBytes;
  }

  /** A buffer of at least `bytes` bytes, that the caller owns alone until it gives it back. */
  take(bytes: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const size = (this.#free[i] as ArrayBuffer).byteLength;
      if (size >= bytes && (best < 0 || size < (this.#free[best] as ArrayBuffer).byteLength)) best = i;
    }
    if (best >= 0) {
      const [buffer] = this.#free.splice(best, 1) as [ArrayBuffer];
      this.#freeBytes -= buffer.byteLength;
      return buffer;
    }
    const buffer = new ArrayBuffer(Math.ceil((bytes + bytes * HEADROOM) / ROUND_TO) * ROUND_TO);
    this.#ours.add(buffer);
    this.#allocatedBytes += buffer.byteLength;
    return buffer;
  }

  /** True for a buffer {@link take} handed out (or {@link give} took back): nothing else holds a view of it. */
  owns(buffer: ArrayBufferLike): boolean {
    return buffer instanceof ArrayBuffer && this.#ours.has(buffer);
  }

  /**
   * Takes back a buffer nothing reads any more: one {@link take} handed out,
   * or the same memory transferred back from a worker (a new object, which
   * is why it is not checked against those handed out).
   */
  give(buffer: ArrayBuffer): void {
    // A detached buffer (transferred away) has no bytes left.
    if (buffer.byteLength === 0) return;
    if (this.#freeBytes + buffer.byteLength > this.#maxFreeBytes) return;
    this.#ours.add(buffer);
    this.#free.push(buffer);
    this.#freeBytes += buffer.byteLength;
  }
}
