import { createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getAddressEncoder, getBase58Decoder, getBase58Encoder } from "@solana/kit";
import {
  blockFromJsonFixture,
  type JsonEncodedTransaction,
  type SimulatedBlock,
  type SimulatedTransaction,
  wireBytesFromJson,
} from "../../src/simulator/index.js";

/** Where the recorded chain data lives: $TIDEMARK_FIXTURES_DIR, or ../shared/fixtures next to the repository. */
export function locateFixtures(): string {
  const fromEnv = process.env.TIDEMARK_FIXTURES_DIR;
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
  const dir = fromEnv ? resolve(fromEnv) : resolve(repoRoot, "../shared/fixtures");
  const required = [
    "README.md",
    "solana/mainnet-slot100000000-json.json",
    "solana/mainnet-slot100000001-header.json",
    "solana/mainnet-slot241043141-initializeAccount-failed-jsonParsed.json",
    "solana/edited-slot100000000-error-variants-json.json",
    "horizon/stellar-pubnet-transactions-page-2015.json",
    "horizon/stellar-pubnet-transaction-5c2e4dad.json",
    "horizon/stellar-pubnet-ledger-898826.json",
    "horizon/stellar-pubnet-ledger-500.json",
    "horizon/stellar-pubnet-ledgers-page-desc.json",
  ];
  const missing = required.filter((file) => !existsSync(resolve(dir, file)));
  if (missing.length > 0) {
    throw new Error(
      `@tidemark/kin tests need the recorded chain data in ${dir} (set TIDEMARK_FIXTURES_DIR to override); missing: ${missing.join(", ")}`,
    );
  }
  return dir;
}

/** A fixture file as JSON (some recorded Horizon files start with a UTF-8 BOM). */
export function loadJson<T = Record<string, unknown>>(dir: string, file: string): T {
  return JSON.parse(readFileSync(resolve(dir, file), "utf8").replace(/^\uFEFF/, "")) as T;
}

/** Real mainnet slot 100000000 (10 transactions, `json` encoding) with the wire bytes re-serialised. */
export function recordedSlot100000000(dir: string): SimulatedBlock {
  const block = blockFromJsonFixture(100000000n, loadJson(dir, "solana/mainnet-slot100000000-json.json"));
  return { ...block, transactions: block.transactions.map((tx) => ({ ...tx, kind: "recorded" })) };
}

/** Real mainnet slot 100000001: its header only (the recording has no transactions). */
export function recordedSlot100000001(dir: string): SimulatedBlock {
  return blockFromJsonFixture(100000001n, loadJson(dir, "solana/mainnet-slot100000001-header.json"));
}

/** The three transactions of the error-variants recording (err null, object and string forms). */
export function recordedErrorVariants(dir: string): SimulatedTransaction[] {
  return blockFromJsonFixture(
    100000000n,
    loadJson(dir, "solana/edited-slot100000000-error-variants-json.json"),
  ).transactions.map((tx) => ({ ...tx, kind: "recorded" }));
}

const base58String = getBase58Decoder();
const base58Bytes = getBase58Encoder();
const addressBytes = getAddressEncoder();

type ParsedInstruction = {
  programId: string;
  accounts?: string[];
  data?: string;
  parsed?: { type: string; info: Record<string, unknown> };
  stackHeight?: number | null;
};

/**
 * Real mainnet slot 241043141's failed transaction (SPL Token
 * InitializeAccount + CloseAccount on wrapped SOL, an associated-account
 * creation, a DEX call), recorded in `jsonParsed`. Its wire bytes are rebuilt
 * from the parsed instructions; the test suite checks the first signature
 * verifies against them, so they are the bytes that were signed.
 */
export function recordedFailedInitializeAccount(dir: string): {
  slot: bigint;
  blockTime: number;
  transaction: SimulatedTransaction;
} {
  const block = loadJson<Record<string, unknown>>(
    dir,
    "solana/mainnet-slot241043141-initializeAccount-failed-jsonParsed.json",
  );
  const recorded = (block.transactions as Record<string, unknown>[])[0] as Record<string, unknown>;
  const tx = recorded.transaction as {
    signatures: string[];
    message: {
      accountKeys: { pubkey: string; signer: boolean; writable: boolean }[];
      recentBlockhash: string;
      instructions: ParsedInstruction[];
    };
  };
  const keys = tx.message.accountKeys;
  const index = (address: unknown) => {
    const i = keys.findIndex((k) => k.pubkey === address);
    if (i < 0) throw new Error(`fixture 241043141: ${String(address)} is not among the account keys`);
    return i;
  };
  const json: JsonEncodedTransaction = {
    signatures: tx.signatures,
    message: {
      header: {
        numRequiredSignatures: keys.filter((k) => k.signer).length,
        numReadonlySignedAccounts: keys.filter((k) => k.signer && !k.writable).length,
        numReadonlyUnsignedAccounts: keys.filter((k) => !k.signer && !k.writable).length,
      },
      accountKeys: keys.map((k) => k.pubkey),
      recentBlockhash: tx.message.recentBlockhash,
      instructions: tx.message.instructions.map((ix) => compileParsed(ix, index)),
    },
  };
  const meta = { ...(recorded.meta as Record<string, unknown>) };
  meta.innerInstructions = (meta.innerInstructions as { index: number; instructions: ParsedInstruction[] }[]).map(
    (group) => ({
      index: group.index,
      instructions: group.instructions.map((ix) => ({
        ...compileParsed(ix, index),
        stackHeight: ix.stackHeight ?? null,
      })),
    }),
  );
  return {
    slot: 241043141n,
    blockTime: block.blockTime as number,
    transaction: { bytes: wireBytesFromJson(json, "legacy"), version: "legacy", meta, kind: "recorded" },
  };
}

/** True when the first signature of wire bytes verifies against the message and the first account key. */
export function firstSignatureVerifies(bytes: Uint8Array): boolean {
  const count = bytes[0] as number;
  const signature = bytes.subarray(1, 65);
  const message = bytes.subarray(1 + 64 * count);
  // The fee payer is the first static key: after the header (3 bytes, +1 version byte for v0) and the key count.
  const offset = (message[0] as number) & 0x80 ? 1 : 0;
  const keyStart = offset + 3 + 1;
  const feePayer = message.subarray(keyStart, keyStart + 32);
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(feePayer)]),
    format: "der",
    type: "spki",
  });
  return verify(null, message, key, signature);
}

function compileParsed(
  ix: ParsedInstruction,
  index: (address: unknown) => number,
): { programIdIndex: number; accounts: number[]; data: string } {
  if (!ix.parsed)
    return { programIdIndex: index(ix.programId), accounts: (ix.accounts ?? []).map(index), data: ix.data ?? "" };
  const info = ix.parsed.info;
  const key = (name: string) =>
    Buffer.from(addressBytes.encode(info[name] as Parameters<typeof addressBytes.encode>[0]));
  const u32 = (n: number) => Buffer.from(Uint32Array.of(n).buffer);
  const u64 = (n: unknown) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n as number));
    return b;
  };
  let accounts: unknown[];
  let data: Buffer;
  switch (ix.parsed.type) {
    case "createAccountWithSeed": // system: funding, new account (base == funding here)
      accounts = [info.source, info.newAccount];
      data = Buffer.concat([
        u32(3),
        key("base"),
        u64((info.seed as string).length),
        Buffer.from(info.seed as string),
        u64(info.lamports),
        u64(info.space),
        key("owner"),
      ]);
      break;
    case "createAccount":
      accounts = [info.source, info.newAccount];
      data = Buffer.concat([u32(0), u64(info.lamports), u64(info.space), key("owner")]);
      break;
    case "initializeAccount":
      accounts = [info.account, info.mint, info.owner, info.rentSysvar];
      data = Buffer.from([1]);
      break;
    case "initializeAccount3":
      accounts = [info.account, info.mint];
      data = Buffer.concat([Buffer.from([18]), key("owner")]);
      break;
    case "getAccountDataSize": // extension ImmutableOwner = 7 (u16)
      accounts = [info.mint];
      data = Buffer.from([21, 7, 0]);
      break;
    case "initializeImmutableOwner":
      accounts = [info.account];
      data = Buffer.from([22]);
      break;
    case "create": // associated token account, legacy Create: empty data
      accounts = [info.source, info.account, info.wallet, info.mint, info.systemProgram, info.tokenProgram];
      data = Buffer.alloc(0);
      break;
    case "closeAccount":
      accounts = [info.account, info.destination, info.owner];
      data = Buffer.from([9]);
      break;
    default:
      throw new Error(`fixture 241043141: no encoder for parsed ${ix.parsed.type}`);
  }
  return { programIdIndex: index(ix.programId), accounts: accounts.map(index), data: base58String.decode(data) };
}

export { base58Bytes };
