/** Where one transaction of a getBlock answer sits in its body, as {@link scanBlockBody} found it. */
export interface ScannedTransaction {
  /** The transaction object's bytes: `body[start, end)`. */
  readonly start: number;
  readonly end: number;
  /** Its base64 wire bytes (without the quotes): `body[base64Start, base64End)`. */
  readonly base64Start: number;
  readonly base64End: number;
  /**
   * True when the transaction has the plain shape every node sends: `meta` an
   * object, `transaction` exactly `[<string>, "base64"]`, `version` absent,
   * `"legacy"` or `0`, no key twice, no escape sequence anywhere. Only a plain
   * transaction may be judged from its bytes and text alone; any other is
   * parsed and checked in full.
   */
  readonly plain: boolean;
}

/** A getBlock answer's body, framed: where its transactions array and each transaction are. */
export interface ScannedBlock {
  /** The `[` of `result.transactions`. */
  readonly transactionsStart: number;
  /** Just past its `]`. */
  readonly transactionsEnd: number;
  readonly transactions: readonly ScannedTransaction[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** What a container is, as far as the scan cares. */
enum Place {
  Other,
  Root,
  Result,
  Transactions,
  Transaction,
  WireTransaction,
}

/** The keys the scan tells apart, by where they occur. */
enum Key {
  Other,
  Result,
  Transactions,
  Meta,
  Transaction,
  Version,
}

const KEYS: readonly (readonly [Place, Key, Uint8Array])[] = [
  [Place.Root, Key.Result, ascii("result")],
  [Place.Result, Key.Transactions, ascii("transactions")],
  [Place.Transaction, Key.Meta, ascii("meta")],
  [Place.Transaction, Key.Transaction, ascii("transaction")],
  [Place.Transaction, Key.Version, ascii("version")],
];
const LEGACY = ascii("legacy");
const BASE64 = ascii("base64");

// Bytes allowed outside strings: whitespace, punctuation, and what numbers and true/false/null are made of.
const BARE = new Uint8Array(256);
for (const c of " \t\r\n,:{}[]0123456789+-.eEtrufalsn") BARE[c.charCodeAt(0)] = 1;

/**
 * Frames a getBlock answer's body in one pass over its bytes, without
 * building any of it: the cost of a JSON.parse of a multi-megabyte mainnet
 * block is mostly the votes it would build and collect. Returns null when the
 * body is not an object with a `result.transactions` array (an error, a null
 * result): such bodies are small, and JSON.parse reads them. Throws
 * `SyntaxError`, as JSON.parse would, for unbalanced brackets, an unterminated
 * string, a stray byte outside strings or anything after the end. Strings are
 * skipped, not validated: a transaction's text is checked by JSON.parse when
 * it is read.
 */
export function scanBlockBody(body: Buffer): ScannedBlock | null {
  const n = body.length;
  // One entry per open container: where it is, the key its value belongs to, whether it is an object.
  const places: Place[] = [];
  const keys: Key[] = [];
  const objects: boolean[] = [];
  let place = Place.Other;
  let key = Key.Other;
  let inObject = false;
  let expectKey = false;
  let transactionsStart = -1;
  let transactionsEnd = -1;
  let transactions: ScannedTransaction[] = [];
  // The transaction being framed.
  let start = -1;
  let base64Start = -1;
  let base64End = -1;
  let plain = true;
  let seen = 0;
  let element = 0;
  let ended = false;
  const bareElement = (from: number, to: number) =>
    transactions.push({ start: from, end: to, base64Start: -1, base64End: -1, plain: false });
  // Escapes are rare: their places, found once, tell which strings have any.
  const slashes: number[] = [];
  for (let at = body.indexOf(BACKSLASH); at >= 0; at = body.indexOf(BACKSLASH, at + 1)) slashes.push(at);
  let nextSlash = 0;
  let p = 0;
  while (p < n) {
    const c = body[p] as number;
    if (c === QUOTE) {
      if (ended) throw syntax("unexpected data after the end", p);
      const from = p + 1;
      const to = stringEnd(body, from);
      while (nextSlash < slashes.length && (slashes[nextSlash] as number) < from) nextSlash++;
      const escaped = nextSlash < slashes.length && (slashes[nextSlash] as number) < to;
      p = to + 1;
      if (escaped) plain = false;
      if (expectKey) {
        expectKey = false;
        key = Key.Other;
        if (escaped || (place !== Place.Root && place !== Place.Result && place !== Place.Transaction)) continue;
        for (const [where, which, text] of KEYS) if (where === place && equals(body, from, to, text)) key = which;
        if (place === Place.Transaction && key !== Key.Other) {
          if (seen & (1 << key)) plain = false;
          seen |= 1 << key;
        }
        continue;
      }
      if (place === Place.Transactions) bareElement(from - 1, p);
      else if (place === Place.Transaction) {
        if (key !== Key.Version || !equals(body, from, to, LEGACY)) plain = false;
      } else if (place === Place.WireTransaction) {
        if (element === 0) {
          base64Start = from;
          base64End = to;
        } else if (element !== 1 || !equals(body, from, to, BASE64)) plain = false;
      }
      continue;
    }
    switch (c) {
      case OPEN_OBJECT:
      case OPEN_ARRAY: {
        if (ended) throw syntax("unexpected data after the end", p);
        const object = c === OPEN_OBJECT;
        let next = Place.Other;
        if (places.length === 0) next = object ? Place.Root : Place.Other;
        else if (place === Place.Root && key === Key.Result && object) next = Place.Result;
        else if (place === Place.Result && key === Key.Transactions && !object) {
          next = Place.Transactions;
          transactionsStart = p;
          transactions = [];
        } else if (place === Place.Transactions) {
          start = p;
          base64Start = -1;
          base64End = -1;
          seen = 0;
          // Anything but an object is framed all the same, for the full parse to reject.
          plain = object;
          if (object) next = Place.Transaction;
        } else if (place === Place.Transaction) {
          if (key === Key.Transaction && !object) {
            next = Place.WireTransaction;
            element = 0;
          } else if (key !== Key.Meta || !object) plain = false;
        } else if (place === Place.WireTransaction) plain = false;
        places.push(place);
        keys.push(key);
        objects.push(inObject);
        place = next;
        key = Key.Other;
        inObject = object;
        expectKey = object;
        p++;
        break;
      }
      case CLOSE_OBJECT:
      case CLOSE_ARRAY: {
        if (places.length === 0 || inObject !== (c === CLOSE_OBJECT)) throw syntax("unbalanced bracket", p);
        const closing = place;
        if (closing === Place.WireTransaction && element !== 1) plain = false;
        place = places.pop() as Place;
        key = keys.pop() as Key;
        inObject = objects.pop() as boolean;
        expectKey = false;
        p++;
        if (closing === Place.Transactions) transactionsEnd = p;
        else if (place === Place.Transactions) {
          const framed = closing === Place.Transaction && (seen & (1 << Key.Meta)) !== 0 && base64Start >= 0;
          transactions.push({ start, end: p, base64Start, base64End, plain: plain && framed });
        }
        if (places.length === 0) ended = true;
        break;
      }
      case COMMA:
        if (place === Place.WireTransaction) element++;
        expectKey = inObject;
        p++;
        break;
      case COLON:
        p++;
        break;
      default: {
        if (BARE[c] === 0) throw syntax(`unexpected byte 0x${c.toString(16)}`, p);
        if (isSpace(c)) {
          p++;
          break;
        }
        if (ended) throw syntax("unexpected data after the end", p);
        // A bare token: a number, true, false or null.
        const from = p;
        p = skipBare(body, p);
        if (place === Place.Transactions) bareElement(from, p);
        else if (place === Place.Transaction) {
          // Only `"version": 0` is plain.
          if (key !== Key.Version || p - from !== 1 || c !== 0x30) plain = false;
        } else if (place === Place.WireTransaction) plain = false;
      }
    }
  }
  if (!ended) throw syntax("unexpected end of input", n);
  if (transactionsStart < 0 || transactionsEnd < 0) return null;
  return { transactionsStart, transactionsEnd, transactions };
}

/**
 * The index of the quote that ends the string starting at `from`. Short
 * strings (keys, numbers' neighbours) end within a few bytes, found
 * byte by byte; long ones (base64, logs, addresses) are searched natively.
 */
function stringEnd(body: Buffer, from: number): number {
  const short = Math.min(from + 16, body.length);
  for (let p = from; p < short; p++) {
    const c = body[p] as number;
    if (c === QUOTE) return p;
    if (c === BACKSLASH) break;
  }
  for (let p = from; ; ) {
    const q = body.indexOf(QUOTE, p);
    if (q < 0) throw syntax("unterminated string", from - 1);
    // Escaped when an odd number of backslashes precede it.
    let k = q - 1;
    while (k >= from && body[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    p = q + 1;
  }
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function equals(body: Buffer, from: number, to: number, text: Uint8Array): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (body[from + i] !== text[i]) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Past a bare token (a number, true, false or null). */
function skipBare(body: Buffer, p: number): number {
  let q = p;
  while (q < body.length) {
    const c = body[q] as number;
    if (BARE[c] === 0 || isSpace(c) || c === COMMA || c === COLON || c === OPEN_OBJECT || c === CLOSE_OBJECT) break;
    if (c === OPEN_ARRAY || c === CLOSE_ARRAY) break;
    q++;
  }
  return q;
}

function syntax(what: string, at: number): SyntaxError {
  return new SyntaxError(`getBlock answer is not JSON: ${what} at byte ${at}`);
}
