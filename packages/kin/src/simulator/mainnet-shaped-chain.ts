import { createCipheriv, createHash } from "node:crypto";
import { type Address, getBase58Decoder } from "@solana/kit";
import { InvalidArgumentError } from "@tidemark/core";
import { TOKEN_PROGRAM_ADDRESS } from "../model/spl-token.js";
import { seededRandom } from "./kin-network.js";
import {
  type MainnetTransactionKind,
  signTemplatePool,
  type TemplatePool,
  type TransactionTemplate,
} from "./mainnet-templates.js";
import { blockhashFor, type SimulatedBlock, type SimulatedTransaction } from "./solana-chain.js";
import type { SolanaLedger } from "./solana-ledger.js";
import { transactionJson } from "./transaction-json.js";

export interface MainnetShapedChainOptions {
  /** Everything derives from it: keys, the transaction mix, ids (default "tidemark"). */
  readonly seed?: string;
  /** The first slot (default 250 000 000). */
  readonly startSlot?: bigint;
  /** Blocks served at first; {@link MainnetShapedChain.extend} adds more (default 1). */
  readonly blocks?: number;
  /** Transactions per block (default 1 200). */
  readonly transactionsPerBlock?: number;
  /** Kin transfers per block (default 4). */
  readonly kinTransfersPerBlock?: number;
  /** The share of the other transactions that are votes (default 0.75). */
  readonly voteShare?: number;
  /** Chance that a slot is skipped (default 0.02; the first slot never is). */
  readonly skipProbability?: number;
  /** The Kin mint (default the mainnet Kin mint). */
  readonly mint?: Address;
  /** Unix time of the first block (default 1 700 000 000); later blocks follow at 400 ms per slot. */
  readonly startTime?: number;
  /**
   * Repeat the traffic around the Kin transfers every this many blocks
   * (default: never). The Kin transfers stay unique; the votes, transfers and
   * swaps around them, byte for byte the same as `repeatEvery` blocks before,
   * are written as JSON once, and kept: about 2.3 MB a block of the cycle at
   * the default size. For benchmarks: the simulator then costs little beside
   * the ingestor it feeds on the same cores.
   */
  readonly repeatEvery?: number;
}

/** A Kin transfer of a mainnet-shaped block: what an ingestor must write for it. */
export interface MainnetKinTransfer {
  readonly slot: bigint;
  /** Its position in the block. */
  readonly index: number;
  /** Its first signature, base58: the transaction id. */
  readonly id: string;
  readonly source: Address;
  readonly destination: Address;
  /** The owner of the source account, who signed. */
  readonly authority: Address;
  /** In quarks. */
  readonly amount: bigint;
}

const KIND_CODES: readonly MainnetTransactionKind[] = ["vote", "sol-transfer", "usdc-transfer", "swap", "kin-transfer"];
const base58 = getBase58Decoder();
const SLOT_MS = 400;

/** A block's layout, drawn from its slot alone: cheap, so Kin transfers can be listed without building the block. */
interface Plan {
  readonly kinds: Uint8Array;
  readonly templates: Uint16Array;
  readonly amounts: readonly bigint[];
  readonly balances: Float64Array;
}

/**
 * A Solana ledger shaped like mainnet, for benchmarks and chaos tests: about
 * 1,200 transactions a block, three quarters of them TowerSync votes, then SOL
 * transfers, USDC transfers, DEX swaps and a few Kin transfers, each with the
 * metadata a real node returns. Blocks are built on demand from the seed and
 * the slot, never kept, so memory stays flat however long the chain: a small
 * pool of transactions is signed once with the real SDK, and every copy gets
 * its own signature (unique across the chain), recent blockhash and amount
 * (votes keep their template's balances).
 * Nothing verifies signatures, so the copies read like signed transactions.
 */
export class MainnetShapedChain implements SolanaLedger {
  readonly seed: string;
  readonly firstSlot: bigint;
  readonly transactionsPerBlock: number;
  readonly kinTransfersPerBlock: number;
  readonly #pool: TemplatePool;
  readonly #voteShare: number;
  readonly #skipProbability: number;
  readonly #startTime: number;
  readonly #seedHash: number;
  readonly #idKey: Buffer;
  /** Skipped slots before each 1024-slot chunk, filled as heights are asked for. */
  readonly #skipsBeforeChunk: number[] = [0];
  readonly #voteMetaTexts = new Map<TransactionTemplate, string>();
  readonly #repeatEvery: number | null;
  /** The JSON of the repeated traffic, by the block it repeats and whether versions are shown. */
  readonly #repeatedTexts = new Map<string, RepeatedTraffic>();
  #tip: bigint;
  #blocks = 0;

  private constructor(options: MainnetShapedChainOptions, pool: TemplatePool) {
    this.seed = options.seed ?? "tidemark";
    this.firstSlot = options.startSlot ?? 250_000_000n;
    this.transactionsPerBlock = count("transactionsPerBlock", options.transactionsPerBlock ?? 1_200, 1);
    this.kinTransfersPerBlock = Math.min(
      count("kinTransfersPerBlock", options.kinTransfersPerBlock ?? 4, 0),
      this.transactionsPerBlock,
    );
    this.#voteShare = share("voteShare", options.voteShare ?? 0.75);
    this.#skipProbability = share("skipProbability", options.skipProbability ?? 0.02);
    if (this.#skipProbability >= 1)
      throw new InvalidArgumentError("MainnetShapedChain: skipProbability must be below 1");
    this.#startTime = options.startTime ?? 1_700_000_000;
    this.#repeatEvery = options.repeatEvery === undefined ? null : count("repeatEvery", options.repeatEvery, 1);
    const digest = createHash("sha256").update(`mainnet-shaped/${this.seed}`).digest();
    this.#seedHash = digest.readUInt32LE(0);
    this.#idKey = digest.subarray(16, 32);
    this.#pool = pool;
    this.#tip = this.firstSlot;
    this.#blocks = 1;
    this.extend(count("blocks", options.blocks ?? 1, 1) - 1);
  }

  /** Signs the template pool (a few dozen transactions) and returns the chain. */
  static async create(options: MainnetShapedChainOptions = {}): Promise<MainnetShapedChain> {
    return new MainnetShapedChain(options, await signTemplatePool(options.seed ?? "tidemark", options.mint));
  }

  /** The Kin mint of the Kin transfers. */
  get mint(): Address {
    return this.#pool.factory.mint;
  }

  get tipSlot(): bigint {
    return this.#tip;
  }

  get finalizedSlot(): bigint {
    return this.#tip;
  }

  /** Blocks served so far. */
  get size(): number {
    return this.#blocks;
  }

  /** Adds `blocks` blocks after the tip (skipping slots as mainnet does). */
  extend(blocks = 1): void {
    for (let added = 0; added < blocks; added++) {
      do this.#tip++;
      while (this.#skips(this.#tip));
      this.#blocks++;
    }
  }

  isSkipped(slot: bigint): boolean {
    return slot >= this.firstSlot && slot < this.#tip && this.#skips(slot);
  }

  blocksFrom(start: bigint, limit: number): bigint[] {
    const out: bigint[] = [];
    for (let slot = start < this.firstSlot ? this.firstSlot : start; slot <= this.#tip && out.length < limit; slot++) {
      if (!this.#skips(slot)) out.push(slot);
    }
    return out;
  }

  block(slot: bigint): SimulatedBlock | undefined {
    if (slot < this.firstSlot || slot > this.#tip || this.#skips(slot)) return undefined;
    const parent = this.#parentOf(slot);
    let transactions: SimulatedTransaction[] | undefined;
    const build = () => this.#transactions(slot, parent);
    return {
      slot,
      parentSlot: parent,
      blockhash: blockhashFor(slot),
      previousBlockhash: blockhashFor(parent),
      blockHeight: this.#height(slot),
      blockTime: this.#startTime + Math.floor((Number(slot - this.firstSlot) * SLOT_MS) / 1000),
      // Built when first read: block headers (getBlockTime, getLatestBlockhash) cost nothing.
      get transactions() {
        transactions ??= build();
        return transactions;
      },
    };
  }

  /**
   * The block's transactions as the JSON array getBlock sends in base64
   * encoding (see {@link SolanaLedger.transactionsJson}); undefined when there
   * is no block at `slot`.
   */
  transactionsJson(slot: bigint, withVersion: boolean): Buffer[] | undefined {
    if (slot < this.firstSlot || slot > this.#tip || this.#skips(slot)) return undefined;
    const base = this.#planSlot(slot);
    if (base === slot) {
      const all = this.#transactions(slot, this.#parentOf(slot));
      return [Buffer.from(`[${all.map((tx) => transactionJson(tx, withVersion)).join(",")}]`)];
    }
    const key = `${base}/${withVersion}`;
    let repeated = this.#repeatedTexts.get(key);
    if (repeated === undefined) {
      const segments: Buffer[] = [];
      let run: string[] = [];
      for (const tx of this.#transactions(base, this.#parentOf(base))) {
        if (tx.kind === "kin-transfer") {
          segments.push(Buffer.from(run.join(",")));
          run = [];
        } else run.push(transactionJson(tx, withVersion));
      }
      segments.push(Buffer.from(run.join(",")));
      repeated = { segments };
      this.#repeatedTexts.set(key, repeated);
    }
    const kin = this.#transactions(slot, this.#parentOf(slot), true);
    // Bytes, not text: the answer is written as they are, without turning megabytes of text into UTF-8.
    const out: Buffer[] = [Buffer.from("[")];
    const add = (bytes: Buffer) => out.push(...(out.length > 1 ? [Buffer.from(",")] : []), bytes);
    repeated.segments.forEach((segment, k) => {
      if (segment.length > 0) add(segment);
      const tx = kin[k];
      if (tx !== undefined) add(Buffer.from(transactionJson(tx, withVersion)));
    });
    out.push(Buffer.from("]"));
    return out;
  }

  /** The Kin transfers of the block at `slot`, in block order (none for a skipped or future slot). */
  kinTransfers(slot: bigint): MainnetKinTransfer[] {
    if (slot < this.firstSlot || slot > this.#tip || this.#skips(slot)) return [];
    const plan = this.#plan(this.#planSlot(slot));
    const out: MainnetKinTransfer[] = [];
    plan.kinds.forEach((code, index) => {
      if (KIND_CODES[code] !== "kin-transfer") return;
      const transfer = this.#template("kin-transfer", plan.templates[index] as number).transfer;
      if (transfer === undefined) return;
      out.push({
        slot,
        index,
        id: base58.decode(this.#signatures(slot, [index])),
        source: transfer.source,
        destination: transfer.destination,
        authority: transfer.sourceOwner,
        amount: plan.amounts[index] as bigint,
      });
    });
    return out;
  }

  /** The newest slot before `slot` with a block (the one before the first slot when there is none). */
  #parentOf(slot: bigint): bigint {
    let parent = slot - 1n;
    while (parent >= this.firstSlot && this.#skips(parent)) parent--;
    return parent;
  }

  /** The slot whose layout and traffic `slot` has: itself, or the one it repeats. */
  #planSlot(slot: bigint): bigint {
    if (this.#repeatEvery === null) return slot;
    return this.firstSlot + ((slot - this.firstSlot) % BigInt(this.#repeatEvery));
  }

  /** Deterministic per slot; never the first slot, so the chain always starts with a block. */
  #skips(slot: bigint): boolean {
    return slot !== this.firstSlot && this.#unit(slot, 0x5eed) < this.#skipProbability;
  }

  #unit(slot: bigint, salt: number): number {
    let h = (this.#seedHash ^ Number(slot & 0xffffffffn) ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ Number(slot >> 32n), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    // `^=` leaves a signed 32-bit value: unsigned again, so the draw lies in [0, 1).
    return (h >>> 0) / 4_294_967_296;
  }

  /** The block height: blocks before `slot`, counted from the first slot's (its slot number, as SolanaChain's). */
  #height(slot: bigint): bigint {
    const offset = Number(slot - this.firstSlot);
    const chunk = offset >> 10;
    while (this.#skipsBeforeChunk.length <= chunk) {
      const k = this.#skipsBeforeChunk.length - 1;
      this.#skipsBeforeChunk.push((this.#skipsBeforeChunk[k] as number) + this.#skipsIn(k << 10, (k + 1) << 10));
    }
    const skipped = (this.#skipsBeforeChunk[chunk] as number) + this.#skipsIn(chunk << 10, offset);
    return slot - BigInt(skipped);
  }

  #skipsIn(fromOffset: number, toOffset: number): number {
    let skipped = 0;
    for (let o = fromOffset; o < toOffset; o++) if (this.#skips(this.firstSlot + BigInt(o))) skipped++;
    return skipped;
  }

  #plan(slot: bigint): Plan {
    const random = seededRandom((this.#seedHash ^ Math.floor(this.#unit(slot, 0x91a7) * 4_294_967_296)) >>> 0);
    const n = this.transactionsPerBlock;
    const kin = this.kinTransfersPerBlock;
    const votes = Math.round((n - kin) * this.#voteShare);
    const others = n - kin - votes;
    const kinds = new Uint8Array(n);
    const swaps = Math.round(others * 0.4);
    const usdc = Math.round(others * 0.35);
    let i = 0;
    const fill = (code: number, amount: number) => {
      for (let k = 0; k < amount; k++) kinds[i++] = code;
    };
    fill(0, votes);
    fill(3, swaps);
    fill(2, usdc);
    fill(1, others - swaps - usdc);
    fill(4, kin);
    for (let k = n - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      const t = kinds[k] as number;
      kinds[k] = kinds[j] as number;
      kinds[j] = t;
    }
    const templates = new Uint16Array(n);
    const amounts: bigint[] = new Array(n);
    const balances = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const kind = KIND_CODES[kinds[k] as number] as MainnetTransactionKind;
      templates[k] = Math.floor(random() * this.#pool.byKind[kind].length);
      const draw = random();
      amounts[k] =
        kind === "kin-transfer"
          ? BigInt(1 + Math.floor(draw * 5_000)) * 100_000n
          : kind === "usdc-transfer"
            ? BigInt(10_000 + Math.floor(draw * 500_000_000))
            : BigInt(100_000 + Math.floor(draw * 2_000_000_000));
      balances[k] = 5_000_000_000 + Math.floor(random() * 900_000_000_000);
    }
    return { kinds, templates, amounts, balances };
  }

  #template(kind: MainnetTransactionKind, index: number): TransactionTemplate {
    return this.#pool.byKind[kind][index] as TransactionTemplate;
  }

  /**
   * The signatures of the transactions at `indexes` of `slot`: AES
   * under a key from the seed, of (slot, index, part). A block cipher is a
   * permutation, so ids never repeat within the chain, and they look random.
   */
  #signatures(slot: bigint, indexes: readonly number[]): Buffer {
    const plain = Buffer.alloc(indexes.length * 64);
    for (let i = 0; i < indexes.length * 4; i++) {
      plain.writeBigUInt64BE(slot, i * 16);
      plain.writeUInt32BE(indexes[i >> 2] as number, i * 16 + 8);
      plain.writeUInt32BE(i & 3, i * 16 + 12);
    }
    const cipher = createCipheriv("aes-128-ecb", this.#idKey, null).setAutoPadding(false);
    return cipher.update(plain);
  }

  /**
   * The transactions of `slot` (only its Kin transfers with `kinOnly`). In a
   * repeating chain the traffic around the Kin transfers is that of the slot
   * it repeats, signatures and blockhash included; the Kin transfers are the
   * slot's own.
   */
  #transactions(slot: bigint, parent: bigint, kinOnly = false): SimulatedTransaction[] {
    const base = this.#planSlot(slot);
    const plan = this.#plan(base);
    const n = plan.kinds.length;
    const all = Array.from({ length: n }, (_, i) => i);
    const kinIndexes = all.filter((i) => KIND_CODES[plan.kinds[i] as number] === "kin-transfer");
    // One cipher call for every signature needed: in a repeating chain, only the Kin transfers' own.
    const own = this.#signatures(slot, kinOnly ? kinIndexes : all);
    const ownAt = (i: number) => (kinOnly ? kinIndexes.indexOf(i) : i);
    const repeated = base === slot || kinOnly ? own : this.#signatures(base, all);
    const ownBlockhash = recentBlockhashOf(parent);
    const repeatedBlockhash = base === slot ? ownBlockhash : recentBlockhashOf(this.#parentOf(base));
    const out: SimulatedTransaction[] = [];
    for (let i = 0; i < n; i++) {
      const kind = KIND_CODES[plan.kinds[i] as number] as MainnetTransactionKind;
      const kin = kind === "kin-transfer";
      if (kinOnly && !kin) continue;
      const template = this.#template(kind, plan.templates[i] as number);
      const amount = plan.amounts[i] as bigint;
      const bytes = template.bytes.slice();
      const at = (kin ? ownAt(i) : i) * 64;
      bytes.set((kin ? own : repeated).subarray(at, at + 64), 1);
      bytes.set(kin ? ownBlockhash : repeatedBlockhash, template.blockhashOffset);
      if (template.amountOffset !== null) {
        new DataView(bytes.buffer).setBigUint64(template.amountOffset, amount, true);
      }
      out.push(
        kind === "vote"
          ? { bytes, version: template.version, meta: template.meta, metaText: this.#voteMetaText(template), kind }
          : { bytes, version: template.version, meta: this.#meta(template, amount, plan.balances[i] as number), kind },
      );
    }
    return out;
  }

  /**
   * A vote's metadata, the same for every copy of its template: votes are
   * most of a block and matter to no reader, and writing their JSON once
   * keeps the simulator cheap beside the ingestor it feeds.
   */
  #voteMetaText(template: TransactionTemplate): string {
    let text = this.#voteMetaTexts.get(template);
    if (text === undefined) {
      text = JSON.stringify(template.meta);
      this.#voteMetaTexts.set(template, text);
    }
    return text;
  }

  #meta(template: TransactionTemplate, amount: bigint, balance: number): Record<string, unknown> {
    const meta = template.meta;
    const fee = meta.fee as number;
    const preBalances = (meta.preBalances as number[]).slice();
    const postBalances = (meta.postBalances as number[]).slice();
    preBalances[0] = balance;
    postBalances[0] = balance - fee;
    if (template.kind === "sol-transfer") {
      postBalances[0] -= Number(amount);
      postBalances[1] = (preBalances[1] as number) + Number(amount);
    }
    const transfer = template.transfer;
    if (transfer === undefined) return { ...meta, preBalances, postBalances };
    // Token balances before and after, consistent with the amount moved.
    const held = BigInt(Math.floor(balance)) * 1_000n;
    const row = (accountIndex: number, owner: Address, value: bigint) => {
      const ui = Number(value) / 10 ** transfer.decimals;
      return {
        accountIndex,
        mint: transfer.mint,
        owner,
        programId: TOKEN_PROGRAM_ADDRESS,
        uiTokenAmount: {
          amount: value.toString(),
          decimals: transfer.decimals,
          uiAmount: value === 0n ? null : ui,
          uiAmountString: ui.toString(),
        },
      };
    };
    const source = held + amount;
    const destination = held / 7n;
    return {
      ...meta,
      preBalances,
      postBalances,
      preTokenBalances: [
        row(transfer.sourceIndex, transfer.sourceOwner, source),
        row(transfer.destinationIndex, transfer.destinationOwner, destination),
      ],
      postTokenBalances: [
        row(transfer.sourceIndex, transfer.sourceOwner, source - amount),
        row(transfer.destinationIndex, transfer.destinationOwner, destination + amount),
      ],
    };
  }
}

/** The JSON of a block's repeated traffic: the runs of transactions between its Kin transfers. */
interface RepeatedTraffic {
  readonly segments: readonly Buffer[];
}

function recentBlockhashOf(parent: bigint): Buffer {
  return createHash("sha256").update(`tidemark-slot-${parent}`).digest();
}

function count(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new InvalidArgumentError(`MainnetShapedChain: ${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function share(name: string, value: number): number {
  if (!(value >= 0 && value <= 1))
    throw new InvalidArgumentError(`MainnetShapedChain: ${name} must be between 0 and 1, got ${value}`);
  return value;
}
