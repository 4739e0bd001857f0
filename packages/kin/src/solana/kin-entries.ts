import { create } from "@bufbuild/protobuf";
// From the sub-packages, not kit: worker threads load this module, and kit would cost each one about 25 MB.
import type { Address } from "@solana/addresses";
import { getBase58Encoder } from "@solana/codecs-strings";
import { RpcResponseError } from "../errors.js";
import {
  type Entry,
  SolanaInnerInstructionSchema,
  SolanaTokenAccountSchema,
  type SolanaTransactionMeta,
  SolanaTransactionMetaSchema,
} from "../gen/model_pb.js";
import { createSolanaEntry, solanaBody } from "../model/entry.js";
import { kinInstructions } from "../model/solana.js";
import { TOKEN_PROGRAM_ADDRESS } from "../model/spl-token.js";
import { addressOf, keyOf, parseWireTransaction } from "../model/wire.js";
import type { RequiredAddress, RpcBlock, RpcBlockTransaction, TransactionFilter } from "./block-shape.js";
import { goJson } from "./go-json.js";

export interface KinEntriesOptions {
  /** The mint whose instructions make a transaction a Kin transaction. */
  readonly mint: Address;
  /** Keep tidemark's metadata extension in the entries (false: byte-identical to agora's). */
  readonly extensions: boolean;
}

const base58 = getBase58Encoder();
const TOKEN_PROGRAM_BYTES = Buffer.from(keyOf(TOKEN_PROGRAM_ADDRESS));

/**
 * The Kin transactions of one block (read with {@link kinCandidates}), in
 * block order, each once: those with an SPL Token instruction (top-level or
 * inner) on the mint. Throws
 * {@link RpcResponseError} naming the slot and field when the block cannot be
 * read faithfully.
 */
export function kinEntriesOfBlock(slot: bigint, block: RpcBlock, options: KinEntriesOptions): Entry[] {
  const entries: Entry[] = [];
  for (const tx of block.transactions) {
    const field = `transactions[${tx.index}]`;
    if (!tx.hasMeta) {
      throw new RpcResponseError(
        `Solana RPC getBlock(${slot}): ${field}.meta is missing, so its token instructions cannot be attributed to a mint`,
        `${field}.meta`,
      );
    }
    const entry = createSolanaEntry({
      slot,
      transaction: tx.bytes,
      ...(tx.err === null ? {} : { transactionError: new TextEncoder().encode(goJson(tx.err)) }),
      blockTime: block.blockTime,
      meta: buildMeta(slot, field, tx),
    });
    let kept: boolean;
    try {
      kept = kinInstructions(entry, options.mint).length > 0;
    } catch (error) {
      throw new RpcResponseError(
        `Solana RPC getBlock(${slot}): ${field}.transaction: ${(error as Error).message}`,
        `${field}.transaction`,
        {
          cause: error,
        },
      );
    }
    if (!kept) continue;
    if (!options.extensions) solanaBody(entry).meta = undefined;
    entries.push(entry);
  }
  return entries;
}

/**
 * The getBlock transactions that may be Kin transactions, judged before
 * anything of them is decoded or checked: a Kin instruction needs the token
 * program among the keys (static, or loaded read-only), and its mint among
 * the keys, in the loaded addresses or in the token balances. Votes, SOL and
 * other tokens' transfers, most of a mainnet block, stop here. A transaction
 * without metadata is kept when it has the program (its mint cannot be known).
 */
export function kinCandidates(mint: Address): TransactionFilter {
  const mintBytes = Buffer.from(keyOf(mint));
  return (bytes, meta) => {
    const wire = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const m = (meta ?? null) as {
      loadedAddresses?: { writable?: unknown; readonly?: unknown } | null;
      preTokenBalances?: unknown;
      postTokenBalances?: unknown;
    } | null;
    const loaded = m?.loadedAddresses ?? null;
    if (!wire.includes(TOKEN_PROGRAM_BYTES) && !listed(loaded?.readonly, TOKEN_PROGRAM_ADDRESS)) return false;
    if (m === null) return true;
    return (
      wire.includes(mintBytes) ||
      listed(loaded?.writable, mint) ||
      listed(loaded?.readonly, mint) ||
      hasMint(m.preTokenBalances, mint) ||
      hasMint(m.postTokenBalances, mint)
    );
  };
}

/**
 * What every transaction {@link kinCandidates} keeps (with metadata)
 * contains: the mint, as key bytes in its wire bytes or as base58 text in its
 * loaded addresses or token balances.
 */
export function kinRequiredAddress(mint: Address): RequiredAddress {
  return { text: Buffer.from(mint, "latin1"), key: Buffer.from(keyOf(mint)) };
}

function listed(list: unknown, address: Address): boolean {
  return Array.isArray(list) && list.includes(address);
}

function hasMint(balances: unknown, mint: Address): boolean {
  return Array.isArray(balances) && balances.some((b) => (b as { mint?: unknown } | null)?.mint === mint);
}

function buildMeta(slot: bigint, field: string, tx: RpcBlockTransaction): SolanaTransactionMeta {
  let staticKeys: Address[];
  try {
    staticKeys = parseWireTransaction(tx.bytes).staticKeys.map(addressOf);
  } catch (error) {
    throw new RpcResponseError(
      `Solana RPC getBlock(${slot}): ${field}.transaction does not decode as a Solana transaction (${(error as Error).message})`,
      `${field}.transaction`,
      { cause: error },
    );
  }
  const keys = [...staticKeys, ...tx.loadedWritable, ...tx.loadedReadonly];
  const innerInstructions = tx.innerInstructions.flatMap((group, g) =>
    group.instructions.flatMap((ix, i) => {
      const at = `${field}.meta.innerInstructions[${g}].instructions[${i}]`;
      const program = keys[ix.programIdIndex];
      if (program === undefined) {
        throw new RpcResponseError(
          `Solana RPC getBlock(${slot}): ${at}.programIdIndex ${ix.programIdIndex} is out of range`,
          `${at}.programIdIndex`,
        );
      }
      // Only SPL Token instructions matter to Kin; keeping the rest would only grow entries.
      if (program !== TOKEN_PROGRAM_ADDRESS) return [];
      if (ix.accounts.some((a) => a >= keys.length)) {
        throw new RpcResponseError(
          `Solana RPC getBlock(${slot}): ${at}.accounts has an index out of range`,
          `${at}.accounts`,
        );
      }
      let data: Uint8Array;
      try {
        data = new Uint8Array(base58.encode(ix.data));
      } catch (error) {
        throw new RpcResponseError(`Solana RPC getBlock(${slot}): ${at}.data is not base58`, `${at}.data`, {
          cause: error,
        });
      }
      return [
        create(SolanaInnerInstructionSchema, {
          outerIndex: group.index,
          programIndex: ix.programIdIndex,
          accounts: Uint8Array.from(ix.accounts),
          data,
        }),
      ];
    }),
  );
  const tokenAccounts = new Map<Address, { mint: Address; owner: Address | null }>();
  tx.tokenBalances.forEach((balance) => {
    const address = keys[balance.accountIndex];
    if (address === undefined) {
      throw new RpcResponseError(
        `Solana RPC getBlock(${slot}): ${field}.meta token balance accountIndex ${balance.accountIndex} is out of range`,
        `${field}.meta.postTokenBalances`,
      );
    }
    const previous = tokenAccounts.get(address);
    // Post-balances come last: their owner wins (SetAuthority may have changed it).
    tokenAccounts.set(address, { mint: balance.mint, owner: balance.owner ?? previous?.owner ?? null });
  });
  return create(SolanaTransactionMetaSchema, {
    loadedWritable: tx.loadedWritable.map(keyOf),
    loadedReadonly: tx.loadedReadonly.map(keyOf),
    innerInstructions,
    tokenAccounts: [...tokenAccounts].map(([address, info]) =>
      create(SolanaTokenAccountSchema, {
        address: keyOf(address),
        mint: keyOf(info.mint),
        owner: info.owner === null ? new Uint8Array(0) : keyOf(info.owner),
      }),
    ),
  });
}
