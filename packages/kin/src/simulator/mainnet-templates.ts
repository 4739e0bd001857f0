import { createHash } from "node:crypto";
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compressTransactionMessageUsingAddressLookupTables,
  createKeyPairSignerFromPrivateKeyBytes,
  createTransactionMessage,
  getBase58Decoder,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  getTransactionEncoder,
  type Instruction,
  type KeyPairSigner,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import { getTransferCheckedInstruction, getTransferInstruction } from "@solana-program/token";
import { TOKEN_PROGRAM_ADDRESS } from "../model/spl-token.js";
import { KinBlockFactory, type KinWallet } from "./kin-block-factory.js";

/** The kinds of transaction a mainnet-shaped block holds. */
export type MainnetTransactionKind = "vote" | "sol-transfer" | "usdc-transfer" | "swap" | "kin-transfer";

/**
 * A transaction signed once with the real SDK, to be stamped out many times:
 * each copy gets its own signature, recent blockhash and (for transfers)
 * amount written over the template's bytes.
 */
export interface TransactionTemplate {
  readonly kind: MainnetTransactionKind;
  readonly bytes: Uint8Array;
  readonly version: "legacy" | 0;
  /** Where the recent blockhash sits in `bytes`. */
  readonly blockhashOffset: number;
  /** Where the u64 amount (lamports or token units) sits in `bytes`, if it may be rewritten. */
  readonly amountOffset: number | null;
  /** The metadata every copy shares; fee payer balances and token balances are filled in per copy. */
  readonly meta: Record<string, unknown>;
  /** Token transfers: the accounts and owners whose balances the copy reports. */
  readonly transfer?: {
    readonly mint: Address;
    readonly decimals: number;
    readonly source: Address;
    readonly destination: Address;
    readonly sourceOwner: Address;
    readonly destinationOwner: Address;
    /** Their indexes in the transaction's account keys. */
    readonly sourceIndex: number;
    readonly destinationIndex: number;
  };
}

export const VOTE_PROGRAM_ADDRESS = "Vote111111111111111111111111111111111111111" as Address;
const COMPUTE_BUDGET_ADDRESS = "ComputeBudget111111111111111111111111111111" as Address;
const SYSTEM_PROGRAM_ADDRESS = "11111111111111111111111111111111" as Address;
const WSOL_MINT_ADDRESS = "So11111111111111111111111111111111111111112" as Address;
const KIN_DECIMALS = 5;
const USDC_DECIMALS = 6;
/** Signed into templates as the amount, then found and rewritten per copy. */
const SENTINEL_AMOUNT = 0x5a17_c0de_6b1d_a7e5n;
const TEMPLATE_BLOCKHASH = "GHtXQBsoZHVnNFa9YevAzFr17DJjgHXk3ycTKD5xD3Zi" as Blockhash;

const base58 = getBase58Decoder();
const base58Bytes = getBase58Encoder();
const transactionEncoder = getTransactionEncoder();
const transactionDecoder = getTransactionDecoder();
const messageDecoder = getCompiledTransactionMessageDecoder();

/** The signed templates of a mainnet-shaped chain, and the Kin mint and wallets its Kin transfers use. */
export interface TemplatePool {
  readonly byKind: Readonly<Record<MainnetTransactionKind, readonly TransactionTemplate[]>>;
  readonly factory: KinBlockFactory;
}

/** Signs the template pool for `seed`: a few dozen transactions, once. */
export async function signTemplatePool(seed: string, mint?: Address): Promise<TemplatePool> {
  const factory = await KinBlockFactory.create({ seed: `${seed}/mainnet`, wallets: 8, ...(mint ? { mint } : {}) });
  const wallets = factory.wallets;
  const pairs = wallets.map((w, i) => [w, wallets[(i + 3) % wallets.length] as KinWallet] as const);
  const byKind: Record<MainnetTransactionKind, TransactionTemplate[]> = {
    vote: [],
    "sol-transfer": [],
    "usdc-transfer": [],
    swap: [],
    "kin-transfer": [],
  };
  for (let i = 0; i < 12; i++) byKind.vote.push(await voteTemplate(seed, i));
  for (const [from, to] of pairs) {
    byKind["sol-transfer"].push(await solTemplate(from, to));
    byKind["usdc-transfer"].push(await usdcTemplate(factory, from, to));
    byKind["kin-transfer"].push(await kinTemplate(factory, from, to));
  }
  for (let i = 0; i < 4; i++) byKind.swap.push(await swapTemplate(seed, i, factory, wallets[i] as KinWallet));
  return { byKind, factory };
}

async function signerFromSeed(seed: string): Promise<KeyPairSigner> {
  return createKeyPairSignerFromPrivateKeyBytes(createHash("sha256").update(seed).digest());
}

async function addressFromSeed(seed: string): Promise<Address> {
  return (await signerFromSeed(seed)).address;
}

function computeBudget(units: number, microLamports: bigint): Instruction[] {
  const limit = new Uint8Array(5);
  limit[0] = 2;
  new DataView(limit.buffer).setUint32(1, units, true);
  const price = new Uint8Array(9);
  price[0] = 3;
  new DataView(price.buffer).setBigUint64(1, microLamports, true);
  return [
    { programAddress: COMPUTE_BUDGET_ADDRESS, data: limit },
    { programAddress: COMPUTE_BUDGET_ADDRESS, data: price },
  ];
}

interface Signed {
  readonly bytes: Uint8Array;
  readonly keys: readonly Address[];
  readonly loaded: { readonly writable: readonly Address[]; readonly readonly: readonly Address[] };
  readonly blockhashOffset: number;
  readonly amountOffset: number | null;
}

async function sign(
  feePayer: KeyPairSigner,
  instructions: readonly Instruction[],
  lookupTable?: { address: Address; addresses: readonly Address[] },
): Promise<Signed> {
  let message: Parameters<typeof signTransactionMessageWithSigners>[0] = appendTransactionMessageInstructions(
    instructions,
    setTransactionMessageLifetimeUsingBlockhash(
      { blockhash: TEMPLATE_BLOCKHASH, lastValidBlockHeight: 1_000_000_000n },
      setTransactionMessageFeePayerSigner(
        feePayer,
        createTransactionMessage({ version: lookupTable === undefined ? "legacy" : 0 }),
      ),
    ),
  );
  if (lookupTable !== undefined) {
    message = compressTransactionMessageUsingAddressLookupTables(message as never, {
      [lookupTable.address]: [...lookupTable.addresses],
    }) as typeof message;
  }
  const bytes = new Uint8Array(transactionEncoder.encode(await signTransactionMessageWithSigners(message)));
  const compiled = messageDecoder.decode(transactionDecoder.decode(bytes).messageBytes);
  const lookups = "addressTableLookups" in compiled ? (compiled.addressTableLookups ?? []) : [];
  const table = lookupTable?.addresses ?? [];
  const writable = lookups.flatMap((l) => l.writableIndexes.map((i) => table[i] as Address));
  const readonly = lookups.flatMap((l) => l.readonlyIndexes.map((i) => table[i] as Address));
  return {
    bytes,
    keys: [...compiled.staticAccounts, ...writable, ...readonly],
    loaded: { writable, readonly },
    blockhashOffset: onlyOffset(bytes, new Uint8Array(base58Bytes.encode(TEMPLATE_BLOCKHASH)), "blockhash"),
    amountOffset: findOffset(bytes, u64(SENTINEL_AMOUNT)),
  };
}

function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

function findOffset(bytes: Uint8Array, needle: Uint8Array): number | null {
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(needle);
  return at < 0 ? null : at;
}

function onlyOffset(bytes: Uint8Array, needle: Uint8Array, what: string): number {
  const at = findOffset(bytes, needle);
  if (at === null) throw new Error(`mainnet template: the ${what} is not in the signed bytes`);
  return at;
}

function logs(...programs: readonly [Address, readonly string[]][]): string[] {
  return programs.flatMap(([program, lines]) => [
    `Program ${program} invoke [1]`,
    ...lines.map((line) => `Program log: ${line}`),
    ...(program === VOTE_PROGRAM_ADDRESS || program === SYSTEM_PROGRAM_ADDRESS || program === COMPUTE_BUDGET_ADDRESS
      ? []
      : [`Program ${program} consumed ${4_000 + lines.length * 1_500} of 200000 compute units`]),
    `Program ${program} success`,
  ]);
}

function baseMeta(keys: number, logMessages: string[], units: number, extra: Record<string, unknown> = {}) {
  return {
    err: null,
    status: { Ok: null },
    fee: 5000,
    preBalances: new Array(keys).fill(2_039_280),
    postBalances: new Array(keys).fill(2_039_280),
    innerInstructions: [],
    logMessages,
    preTokenBalances: [],
    postTokenBalances: [],
    rewards: [],
    loadedAddresses: { writable: [], readonly: [] },
    computeUnitsConsumed: units,
    costUnits: units + 1_440,
    ...extra,
  };
}

/** A TowerSync vote, as validators send about three of every four mainnet transactions. */
async function voteTemplate(seed: string, i: number): Promise<TransactionTemplate> {
  const identity = await signerFromSeed(`${seed}/validator/${i}`);
  const voteAccount = await addressFromSeed(`${seed}/vote-account/${i}`);
  // VoteInstruction::TowerSync (14): root, 31 lockouts as (varint offset, confirmations), bank hash, timestamp, block id.
  const root = 300_000_000n + BigInt(i);
  const data: number[] = [14, 0, 0, 0, ...u64(root), 31];
  for (let l = 0; l < 31; l++) data.push(1 + (l % 3), 31 - l);
  const hash = createHash("sha256").update(`${seed}/bank-hash/${i}`).digest();
  const blockId = createHash("sha256").update(`${seed}/block-id/${i}`).digest();
  data.push(...hash, 1, ...u64(1_700_000_000n), ...blockId);
  const signed = await sign(identity, [
    {
      programAddress: VOTE_PROGRAM_ADDRESS,
      accounts: [
        { address: voteAccount, role: AccountRole.WRITABLE },
        { address: identity.address, role: AccountRole.READONLY_SIGNER, signer: identity } as never,
      ],
      data: Uint8Array.from(data),
    },
  ]);
  return {
    kind: "vote",
    bytes: signed.bytes,
    version: "legacy",
    blockhashOffset: signed.blockhashOffset,
    amountOffset: null,
    meta: baseMeta(signed.keys.length, logs([VOTE_PROGRAM_ADDRESS, []]), 2_100),
  };
}

async function solTemplate(from: KinWallet, to: KinWallet): Promise<TransactionTemplate> {
  const signed = await sign(from.owner, [
    ...computeBudget(450, 100_000n),
    getTransferSolInstruction({ source: from.owner, destination: to.owner.address, amount: SENTINEL_AMOUNT }),
  ]);
  return {
    kind: "sol-transfer",
    bytes: signed.bytes,
    version: "legacy",
    blockhashOffset: signed.blockhashOffset,
    amountOffset: signed.amountOffset,
    meta: baseMeta(
      signed.keys.length,
      logs([COMPUTE_BUDGET_ADDRESS, []], [COMPUTE_BUDGET_ADDRESS, []], [SYSTEM_PROGRAM_ADDRESS, []]),
      450,
    ),
  };
}

function tokenTransferLogs(kind: string): string[] {
  return logs(
    [COMPUTE_BUDGET_ADDRESS, []],
    [COMPUTE_BUDGET_ADDRESS, []],
    [TOKEN_PROGRAM_ADDRESS, [`Instruction: ${kind}`]],
  );
}

async function usdcTemplate(factory: KinBlockFactory, from: KinWallet, to: KinWallet): Promise<TransactionTemplate> {
  const signed = await sign(from.owner, [
    ...computeBudget(6_000, 250_000n),
    getTransferCheckedInstruction({
      source: from.otherAccount,
      mint: factory.otherMint,
      destination: to.otherAccount,
      authority: from.owner,
      amount: SENTINEL_AMOUNT,
      decimals: USDC_DECIMALS,
    }),
  ]);
  return tokenTemplate("usdc-transfer", signed, tokenTransferLogs("TransferChecked"), {
    mint: factory.otherMint,
    decimals: USDC_DECIMALS,
    source: from.otherAccount,
    destination: to.otherAccount,
    sourceOwner: from.owner.address,
    destinationOwner: to.owner.address,
  });
}

async function kinTemplate(factory: KinBlockFactory, from: KinWallet, to: KinWallet): Promise<TransactionTemplate> {
  const signed = await sign(from.owner, [
    ...computeBudget(6_000, 10_000n),
    getTransferInstruction({
      source: from.kinAccount,
      destination: to.kinAccount,
      authority: from.owner,
      amount: SENTINEL_AMOUNT,
    }),
  ]);
  return tokenTemplate("kin-transfer", signed, tokenTransferLogs("Transfer"), {
    mint: factory.mint,
    decimals: KIN_DECIMALS,
    source: from.kinAccount,
    destination: to.kinAccount,
    sourceOwner: from.owner.address,
    destinationOwner: to.owner.address,
  });
}

function tokenTemplate(
  kind: MainnetTransactionKind,
  signed: Signed,
  logMessages: string[],
  transfer: Omit<NonNullable<TransactionTemplate["transfer"]>, "sourceIndex" | "destinationIndex">,
): TransactionTemplate {
  return {
    kind,
    bytes: signed.bytes,
    version: "legacy",
    blockhashOffset: signed.blockhashOffset,
    amountOffset: signed.amountOffset,
    meta: baseMeta(signed.keys.length, logMessages, 4_800),
    transfer: {
      ...transfer,
      sourceIndex: signed.keys.indexOf(transfer.source),
      destinationIndex: signed.keys.indexOf(transfer.destination),
    },
  };
}

/**
 * A DEX swap through an address lookup table: many accounts, inner token
 * transfers of USDC and wrapped SOL, long program logs. Mainnet's non-vote
 * transactions are mostly like this, and they make most of a block's bytes.
 */
async function swapTemplate(seed: string, i: number, factory: KinBlockFactory, user: KinWallet) {
  const dex = await addressFromSeed(`${seed}/dex-program`);
  const pool: Address[] = [];
  for (let a = 0; a < 28; a++) pool.push(await addressFromSeed(`${seed}/pool/${i}/${a}`));
  const [usdcVault, wsolVault] = pool as [Address, Address];
  const userWsol = await addressFromSeed(`${seed}/wsol/${i}`);
  // Half the route's accounts come from a lookup table, half are static, as in a two-hop aggregator route.
  const table = {
    address: await addressFromSeed(`${seed}/lookup/${i}`),
    addresses: [...pool.slice(14), WSOL_MINT_ADDRESS],
  };
  const accounts = [
    { address: TOKEN_PROGRAM_ADDRESS, role: AccountRole.READONLY },
    { address: user.otherAccount, role: AccountRole.WRITABLE },
    { address: userWsol, role: AccountRole.WRITABLE },
    ...pool.map((address, a) => ({
      address,
      role: a < 6 || (a >= 14 && a < 18) ? AccountRole.WRITABLE : AccountRole.READONLY,
    })),
    { address: factory.otherMint, role: AccountRole.READONLY },
    { address: WSOL_MINT_ADDRESS, role: AccountRole.READONLY },
    { address: user.owner.address, role: AccountRole.READONLY_SIGNER, signer: user.owner } as never,
  ];
  const data = new Uint8Array(64);
  data.set([0xe5, 0x17, 0xcb, 0x97, 0x7a, 0xe3, 0xad, 0x2a]);
  new DataView(data.buffer).setBigUint64(8, 25_000_000n, true);
  const signed = await sign(
    user.owner,
    [...computeBudget(180_000, 1_200_000n), { programAddress: dex, accounts, data }],
    table,
  );
  const index = (address: Address) => signed.keys.indexOf(address);
  const transferData = (amount: bigint) => base58.decode(Uint8Array.from([3, ...u64(amount)]));
  const balance = (account: Address, mint: Address, owner: Address, amount: bigint, decimals: number) => ({
    accountIndex: index(account),
    mint,
    owner,
    programId: TOKEN_PROGRAM_ADDRESS,
    uiTokenAmount: {
      amount: amount.toString(),
      decimals,
      uiAmount: Number(amount) / 10 ** decimals,
      uiAmountString: (Number(amount) / 10 ** decimals).toString(),
    },
  });
  const owner = user.owner.address;
  const dexLines = [
    "Instruction: Route",
    "Instruction: Swap",
    `price: ${150 + i}.${(i * 37) % 100}, sqrt_price_x64: 225${i}88451903366120154, liquidity: 8813${i}05193112`,
    "Instruction: TransferChecked",
    "Instruction: TransferChecked",
    `amount_in: 25000000, amount_out: ${166_000_000 + i}, fee: 7500, protocol_fee: 1500`,
    `tick_current_index: -${19_000 + i}, tick_array_start: -${19_800 + i}`,
    `Program data: ${Buffer.from(createHash("sha512").update(`${seed}/event/${i}`).digest()).toString("base64")}`,
  ];
  const event = (n: number) =>
    `Program data: ${Buffer.concat([0, 1].map((k) => createHash("sha512").update(`${seed}/event/${i}/${n}/${k}`).digest())).toString("base64")}`;
  const innerLogs = [
    `Program ${TOKEN_PROGRAM_ADDRESS} invoke [2]`,
    "Program log: Instruction: TransferChecked",
    `Program ${TOKEN_PROGRAM_ADDRESS} consumed 6173 of 160000 compute units`,
    `Program ${TOKEN_PROGRAM_ADDRESS} success`,
  ];
  const hop = (n: number) => [
    ...dexLines.slice(1, 3).map((l) => `Program log: ${l}`),
    ...innerLogs,
    ...innerLogs,
    ...dexLines.slice(5).map((l) => (l.startsWith("Program data") ? l : `Program log: ${l}`)),
    event(n),
    event(n + 10),
  ];
  const logMessages = [
    ...logs([COMPUTE_BUDGET_ADDRESS, []], [COMPUTE_BUDGET_ADDRESS, []]),
    `Program ${dex} invoke [1]`,
    `Program log: ${dexLines[0]}`,
    ...hop(1),
    ...hop(2),
    event(3),
    `Program ${dex} consumed 98311 of 180000 compute units`,
    `Program return: ${dex} ${Buffer.from(u64(166_000_000n)).toString("base64")}`,
    `Program ${dex} success`,
  ];
  const meta = baseMeta(signed.keys.length, logMessages, 104_484, {
    fee: 5000 + 216,
    innerInstructions: [
      {
        index: 2,
        instructions: [
          {
            programIdIndex: index(TOKEN_PROGRAM_ADDRESS),
            accounts: [index(user.otherAccount), index(usdcVault), index(owner)],
            data: transferData(25_000_000n),
            stackHeight: 2,
          },
          {
            programIdIndex: index(TOKEN_PROGRAM_ADDRESS),
            accounts: [index(wsolVault), index(userWsol), index(usdcVault)],
            data: transferData(166_000_000n),
            stackHeight: 2,
          },
          // The aggregator's self-CPI carrying its swap event, as anchor programs emit them.
          ...[0, 1, 2].map((n) => ({
            programIdIndex: index(dex),
            accounts: [index(pool[20 + n] as Address)],
            data: base58.decode(createHash("sha512").update(`${seed}/cpi-event/${i}/${n}`).digest()),
            stackHeight: 2,
          })),
        ],
      },
    ],
    preTokenBalances: [
      balance(user.otherAccount, factory.otherMint, owner, 90_000_000n, USDC_DECIMALS),
      balance(userWsol, WSOL_MINT_ADDRESS, owner, 1_000_000n, 9),
      balance(usdcVault, factory.otherMint, dex, 1_250_000_000_000n, USDC_DECIMALS),
      balance(wsolVault, WSOL_MINT_ADDRESS, dex, 8_300_000_000_000n, 9),
    ],
    postTokenBalances: [
      balance(user.otherAccount, factory.otherMint, owner, 65_000_000n, USDC_DECIMALS),
      balance(userWsol, WSOL_MINT_ADDRESS, owner, 167_000_000n, 9),
      balance(usdcVault, factory.otherMint, dex, 1_250_025_000_000n, USDC_DECIMALS),
      balance(wsolVault, WSOL_MINT_ADDRESS, dex, 8_299_834_000_000n, 9),
    ],
    loadedAddresses: signed.loaded,
  });
  return {
    kind: "swap",
    bytes: signed.bytes,
    version: 0,
    blockhashOffset: signed.blockhashOffset,
    amountOffset: null,
    meta,
  } satisfies TransactionTemplate;
}
