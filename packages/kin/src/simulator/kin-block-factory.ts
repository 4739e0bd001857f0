import { createHash } from "node:crypto";
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compressTransactionMessageUsingAddressLookupTables,
  createKeyPairSignerFromPrivateKeyBytes,
  createTransactionMessage,
  getAddressDecoder,
  getBase58Decoder,
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
import {
  AuthorityType,
  findAssociatedTokenPda,
  getBurnInstruction,
  getCloseAccountInstruction,
  getInitializeAccountInstruction,
  getMintToInstruction,
  getSetAuthorityInstruction,
  getTransferCheckedInstruction,
  getTransferInstruction,
  getTransferInstructionDataEncoder,
} from "@solana-program/token";
import { KIN_MINT_ADDRESS, TOKEN_PROGRAM_ADDRESS } from "../model/spl-token.js";
import type { SimulatedTransaction } from "./solana-chain.js";

/** USDC on Solana mainnet: the non-Kin token the factory moves. */
export const USDC_MINT_ADDRESS = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v" as Address;

/** A simulated user: a signer with a Kin and a USDC token account. */
export interface KinWallet {
  readonly owner: KeyPairSigner;
  /** Its associated Kin token account. */
  readonly kinAccount: Address;
  /** Its associated USDC token account. */
  readonly otherAccount: Address;
}

export interface KinBlockFactoryOptions {
  /** The Kin mint (default the mainnet Kin mint). */
  readonly mint?: Address;
  /** The non-Kin mint of "other token" transfers (default USDC). */
  readonly otherMint?: Address;
  /** How many wallets to create (default 6). */
  readonly wallets?: number;
  /** Keys derive from it, so the same seed builds the same transactions (default "tidemark"). */
  readonly seed?: string;
  /** Each wallet's starting Kin balance in quarks (default 1 000 000 KIN). */
  readonly initialQuarks?: bigint;
}

/** Options every builder accepts. */
export interface TransactionOptions {
  /** Make it fail: `true` for SPL Token's "insufficient funds" (`{"InstructionError":[0,{"Custom":1}]}`), or the RPC error object to report. */
  readonly fail?: boolean | Record<string, unknown> | string;
  /** `0` builds a versioned transaction that loads its token accounts from the factory's address lookup table. */
  readonly version?: "legacy" | 0;
}

interface Book {
  mint: Address;
  owner: Address;
  amount: bigint;
  decimals: number;
}

const KIN_DECIMALS = 5;
const USDC_DECIMALS = 6;
const SPL_INSUFFICIENT_FUNDS = { InstructionError: [0, { Custom: 1 }] };
const base58 = getBase58Decoder();
const addressDecoder = getAddressDecoder();
const transactionEncoder = getTransactionEncoder();
const transactionDecoder = getTransactionDecoder();
const messageDecoder = getCompiledTransactionMessageDecoder();
const transferData = getTransferInstructionDataEncoder();

/**
 * Builds Solana transactions of Kin traffic the way wallets and apps sign
 * them (real SPL Token instructions, real Ed25519 signatures) together with
 * the status metadata a node would report: token balances, inner
 * instructions, lookup-table addresses and errors. Balances are tracked, so
 * successive transactions tell a consistent story.
 */
export class KinBlockFactory {
  readonly mint: Address;
  readonly otherMint: Address;
  readonly wallets: readonly KinWallet[];
  /** Signs MintTo for the Kin mint. */
  readonly mintAuthority: KeyPairSigner;
  /** A program that moves Kin by CPI (its top-level instruction carries an inner Transfer). */
  readonly routerProgram: Address;
  /** The address lookup table versioned transactions use, and what it holds. */
  readonly lookupTable: { readonly address: Address; readonly addresses: readonly Address[] };
  readonly #book = new Map<Address, Book>();
  readonly #seed: string;
  #nonce = 0;

  private constructor(init: {
    mint: Address;
    otherMint: Address;
    wallets: KinWallet[];
    mintAuthority: KeyPairSigner;
    routerProgram: Address;
    lookupTable: { address: Address; addresses: Address[] };
    seed: string;
  }) {
    this.mint = init.mint;
    this.otherMint = init.otherMint;
    this.wallets = init.wallets;
    this.mintAuthority = init.mintAuthority;
    this.routerProgram = init.routerProgram;
    this.lookupTable = init.lookupTable;
    this.#seed = init.seed;
  }

  static async create(options: KinBlockFactoryOptions = {}): Promise<KinBlockFactory> {
    const seed = options.seed ?? "tidemark";
    const mint = options.mint ?? KIN_MINT_ADDRESS;
    const otherMint = options.otherMint ?? USDC_MINT_ADDRESS;
    const wallets: KinWallet[] = [];
    for (let i = 0; i < (options.wallets ?? 6); i++) {
      const owner = await signerFromSeed(`${seed}/wallet/${i}`);
      const [kinAccount] = await findAssociatedTokenPda({
        owner: owner.address,
        mint,
        tokenProgram: TOKEN_PROGRAM_ADDRESS,
      });
      const [otherAccount] = await findAssociatedTokenPda({
        owner: owner.address,
        mint: otherMint,
        tokenProgram: TOKEN_PROGRAM_ADDRESS,
      });
      wallets.push({ owner, kinAccount, otherAccount });
    }
    const lookupTable = {
      address: (await signerFromSeed(`${seed}/lookup-table`)).address,
      addresses: [...wallets.flatMap((w) => [w.kinAccount, w.otherAccount]), mint, otherMint, TOKEN_PROGRAM_ADDRESS],
    };
    const factory = new KinBlockFactory({
      mint,
      otherMint,
      wallets,
      mintAuthority: await signerFromSeed(`${seed}/mint-authority`),
      routerProgram: (await signerFromSeed(`${seed}/router-program`)).address,
      lookupTable,
      seed,
    });
    for (const wallet of wallets) {
      const initial = options.initialQuarks ?? 100_000_000_000n;
      factory.#book.set(wallet.kinAccount, {
        mint,
        owner: wallet.owner.address,
        amount: initial,
        decimals: KIN_DECIMALS,
      });
      factory.#book.set(wallet.otherAccount, {
        mint: otherMint,
        owner: wallet.owner.address,
        amount: 50_000_000n,
        decimals: USDC_DECIMALS,
      });
    }
    return factory;
  }

  /** The wallet at `index` (modulo the number of wallets). */
  wallet(index: number): KinWallet {
    return this.wallets[((index % this.wallets.length) + this.wallets.length) % this.wallets.length] as KinWallet;
  }

  /** The Kin balance of a token account, in quarks, as the factory's transactions left it. */
  balance(account: Address): bigint | undefined {
    return this.#book.get(account)?.amount;
  }

  /** A Kin transfer between two wallets (`checked`: TransferChecked instead of Transfer). */
  transfer(
    from: number,
    to: number,
    amount: bigint,
    options: TransactionOptions & { checked?: boolean } = {},
  ): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const destination = this.wallet(to);
    const instruction = options.checked
      ? getTransferCheckedInstruction({
          source: source.kinAccount,
          mint: this.mint,
          destination: destination.kinAccount,
          authority: source.owner,
          amount,
          decimals: KIN_DECIMALS,
        })
      : getTransferInstruction({
          source: source.kinAccount,
          destination: destination.kinAccount,
          authority: source.owner,
          amount,
        });
    return this.#build(
      options.checked ? "kin-transfer-checked" : "kin-transfer",
      source.owner,
      [instruction],
      options,
      () => this.#move(source.kinAccount, destination.kinAccount, amount),
    );
  }

  /** Two Kin transfers in one transaction (an app paying two users): still one history entry. */
  batchTransfer(
    from: number,
    to: readonly number[],
    amount: bigint,
    options: TransactionOptions = {},
  ): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const instructions = to.map((t) =>
      getTransferInstruction({
        source: source.kinAccount,
        destination: this.wallet(t).kinAccount,
        authority: source.owner,
        amount,
      }),
    );
    return this.#build("kin-batch-transfer", source.owner, instructions, options, () => {
      for (const t of to) this.#move(source.kinAccount, this.wallet(t).kinAccount, amount);
    });
  }

  /**
   * A Kin transfer made by a program (CPI): the top-level instruction calls
   * the router program, which invokes SPL Token's Transfer; the transfer only
   * shows in the metadata's inner instructions.
   */
  cpiTransfer(
    from: number,
    to: number,
    amount: bigint,
    options: TransactionOptions = {},
  ): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const destination = this.wallet(to);
    const data = new Uint8Array(9);
    data[0] = 7; // the router's own "swap" instruction; opaque to SPL Token
    new DataView(data.buffer).setBigUint64(1, amount, true);
    const instruction: Instruction = {
      programAddress: this.routerProgram,
      accounts: [
        { address: TOKEN_PROGRAM_ADDRESS, role: AccountRole.READONLY },
        { address: source.kinAccount, role: AccountRole.WRITABLE },
        { address: destination.kinAccount, role: AccountRole.WRITABLE },
        {
          address: source.owner.address,
          role: AccountRole.READONLY_SIGNER,
          signer: source.owner,
        } as Instruction["accounts"] extends readonly (infer A)[] | undefined ? A : never,
      ],
      data,
    };
    const inner = {
      program: TOKEN_PROGRAM_ADDRESS,
      accounts: [source.kinAccount, destination.kinAccount, source.owner.address],
      data: new Uint8Array(transferData.encode({ amount })),
    };
    return this.#build(
      "kin-cpi-transfer",
      source.owner,
      [instruction],
      options,
      () => this.#move(source.kinAccount, destination.kinAccount, amount),
      [inner],
    );
  }

  /** A USDC transfer between two wallets: not Kin, an ingestor must leave it out. */
  otherTokenTransfer(
    from: number,
    to: number,
    amount: bigint,
    options: TransactionOptions = {},
  ): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const destination = this.wallet(to);
    const instruction = getTransferInstruction({
      source: source.otherAccount,
      destination: destination.otherAccount,
      authority: source.owner,
      amount,
    });
    return this.#build("usdc-transfer", source.owner, [instruction], options, () =>
      this.#move(source.otherAccount, destination.otherAccount, amount),
    );
  }

  /** A SOL transfer: no token program at all. */
  solTransfer(from: number, to: number, lamports: bigint): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const instruction = getTransferSolInstruction({
      source: source.owner,
      destination: this.wallet(to).owner.address,
      amount: lamports,
    });
    return this.#build("sol-transfer", source.owner, [instruction], {});
  }

  /** Opens a new Kin token account for a wallet (SPL Token InitializeAccount on a fresh address). */
  async openKinAccount(
    owner: number,
    options: TransactionOptions = {},
  ): Promise<{ account: Address; transaction: SimulatedTransaction }> {
    const wallet = this.wallet(owner);
    const account = (await signerFromSeed(`${this.#seed}/account/${this.#nonce++}`)).address;
    const instruction = getInitializeAccountInstruction({ account, mint: this.mint, owner: wallet.owner.address });
    // A real wallet would also create the account (system CreateAccount); the token account is what Kin follows.
    const transaction = await this.#build("kin-open-account", wallet.owner, [instruction], options, () =>
      this.#book.set(account, { mint: this.mint, owner: wallet.owner.address, amount: 0n, decimals: KIN_DECIMALS }),
    );
    return { account, transaction };
  }

  /** Mints Kin into a wallet's account (signed by the mint authority). */
  mintTo(to: number, amount: bigint, options: TransactionOptions = {}): Promise<SimulatedTransaction> {
    const destination = this.wallet(to);
    const instruction = getMintToInstruction({
      mint: this.mint,
      token: destination.kinAccount,
      mintAuthority: this.mintAuthority,
      amount,
    });
    return this.#build("kin-mint", this.mintAuthority, [instruction], options, () =>
      this.#move(null, destination.kinAccount, amount),
    );
  }

  /** Burns Kin from a wallet's account. */
  burn(from: number, amount: bigint, options: TransactionOptions = {}): Promise<SimulatedTransaction> {
    const source = this.wallet(from);
    const instruction = getBurnInstruction({
      account: source.kinAccount,
      mint: this.mint,
      authority: source.owner,
      amount,
    });
    return this.#build("kin-burn", source.owner, [instruction], options, () =>
      this.#move(source.kinAccount, null, amount),
    );
  }

  /** Closes a (zero-balance) Kin token account, returning its rent to the owner. */
  closeAccount(owner: number, account: Address, options: TransactionOptions = {}): Promise<SimulatedTransaction> {
    const wallet = this.wallet(owner);
    const instruction = getCloseAccountInstruction({ account, destination: wallet.owner.address, owner: wallet.owner });
    return this.#build("kin-close-account", wallet.owner, [instruction], options, () => this.#book.delete(account));
  }

  /** Hands a wallet's Kin account to another wallet (SetAuthority AccountOwner). */
  setOwner(owner: number, newOwner: number, options: TransactionOptions = {}): Promise<SimulatedTransaction> {
    const wallet = this.wallet(owner);
    const instruction = getSetAuthorityInstruction({
      owned: wallet.kinAccount,
      owner: wallet.owner,
      authorityType: AuthorityType.AccountOwner,
      newAuthority: this.wallet(newOwner).owner.address,
    });
    return this.#build("kin-set-owner", wallet.owner, [instruction], options, () => {
      const book = this.#book.get(wallet.kinAccount);
      if (book) book.owner = this.wallet(newOwner).owner.address;
    });
  }

  /**
   * A mixed batch of traffic for simulations: mostly Kin transfers, some
   * TransferChecked, CPI and versioned ones, a failed transfer now and then,
   * USDC transfers and SOL transfers. `random` drives the mix.
   */
  async traffic(count: number, random: () => number = Math.random): Promise<SimulatedTransaction[]> {
    const out: SimulatedTransaction[] = [];
    for (let i = 0; i < count; i++) {
      const from = Math.floor(random() * this.wallets.length);
      const to = (from + 1 + Math.floor(random() * (this.wallets.length - 1))) % this.wallets.length;
      const amount = BigInt(1 + Math.floor(random() * 5_000)) * 100_000n;
      const pick = random();
      if (pick < 0.45) out.push(await this.transfer(from, to, amount));
      else if (pick < 0.55) out.push(await this.transfer(from, to, amount, { checked: true }));
      else if (pick < 0.65) out.push(await this.cpiTransfer(from, to, amount));
      else if (pick < 0.72) out.push(await this.transfer(from, to, amount, { version: 0 }));
      else if (pick < 0.77) out.push(await this.transfer(from, to, amount, { fail: true }));
      else if (pick < 0.88) out.push(await this.otherTokenTransfer(from, to, amount / 100n));
      else out.push(await this.solTransfer(from, to, 1_000_000n));
    }
    return out;
  }

  async #build(
    kind: string,
    feePayer: KeyPairSigner,
    instructions: readonly Instruction[],
    options: TransactionOptions,
    /** What the transaction does to balances when it succeeds. */
    effects: () => void = () => {},
    inner: readonly { program: Address; accounts: readonly Address[]; data: Uint8Array }[] = [],
  ): Promise<SimulatedTransaction> {
    const version = options.version ?? "legacy";
    // A distinct blockhash per transaction keeps otherwise identical transactions (and their ids) distinct.
    const blockhash = base58.decode(
      createHash("sha256")
        .update(`${this.#seed}/blockhash/${this.#nonce++}`)
        .digest(),
    ) as Blockhash;
    let message: Parameters<typeof signTransactionMessageWithSigners>[0] = appendTransactionMessageInstructions(
      instructions,
      setTransactionMessageLifetimeUsingBlockhash(
        { blockhash, lastValidBlockHeight: 1_000_000_000n },
        setTransactionMessageFeePayerSigner(feePayer, createTransactionMessage({ version })),
      ),
    );
    if (version === 0) {
      message = compressTransactionMessageUsingAddressLookupTables(message as never, {
        [this.lookupTable.address]: [...this.lookupTable.addresses],
      }) as typeof message;
    }
    const signed = await signTransactionMessageWithSigners(message);
    const bytes = new Uint8Array(transactionEncoder.encode(signed));
    const compiled = messageDecoder.decode(transactionDecoder.decode(bytes).messageBytes);
    const lookups = "addressTableLookups" in compiled ? (compiled.addressTableLookups ?? []) : [];
    const loadedWritable = lookups.flatMap((l) =>
      l.writableIndexes.map((i) => this.lookupTable.addresses[i] as Address),
    );
    const loadedReadonly = lookups.flatMap((l) =>
      l.readonlyIndexes.map((i) => this.lookupTable.addresses[i] as Address),
    );
    const keys = [...compiled.staticAccounts, ...loadedWritable, ...loadedReadonly];

    const err =
      options.fail === undefined || options.fail === false
        ? null
        : options.fail === true
          ? SPL_INSUFFICIENT_FUNDS
          : options.fail;
    const pre = this.#balances(keys);
    if (err === null) effects();
    const post = this.#balances(keys);
    const index = (address: Address) => keys.indexOf(address);
    const meta: Record<string, unknown> = {
      err,
      status: err === null ? { Ok: null } : { Err: err },
      fee: 5000,
      preBalances: keys.map(() => 2_039_280),
      postBalances: keys.map(() => 2_039_280),
      innerInstructions:
        inner.length === 0
          ? []
          : [
              {
                index: 0,
                instructions: inner.map((ix) => ({
                  programIdIndex: index(ix.program),
                  accounts: ix.accounts.map(index),
                  data: base58.decode(ix.data),
                  stackHeight: 2,
                })),
              },
            ],
      logMessages: [],
      preTokenBalances: pre,
      postTokenBalances: post,
      rewards: [],
      computeUnitsConsumed: 4_645,
      ...(version === 0 ? { loadedAddresses: { writable: loadedWritable, readonly: loadedReadonly } } : {}),
    };
    return { bytes, version, meta, kind };
  }

  #balances(keys: readonly Address[]): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    keys.forEach((address, accountIndex) => {
      const book = this.#book.get(address);
      if (book === undefined) return;
      const ui = Number(book.amount) / 10 ** book.decimals;
      out.push({
        accountIndex,
        mint: book.mint,
        owner: book.owner,
        programId: TOKEN_PROGRAM_ADDRESS,
        uiTokenAmount: {
          amount: book.amount.toString(),
          decimals: book.decimals,
          uiAmount: book.amount === 0n ? null : ui,
          uiAmountString: ui.toString(),
        },
      });
    });
    return out;
  }

  #move(from: Address | null, to: Address | null, amount: bigint): void {
    const source = from === null ? undefined : this.#book.get(from);
    const destination = to === null ? undefined : this.#book.get(to);
    if (source) source.amount -= amount;
    if (destination) destination.amount += amount;
  }
}

async function signerFromSeed(seed: string): Promise<KeyPairSigner> {
  return createKeyPairSignerFromPrivateKeyBytes(createHash("sha256").update(seed).digest());
}

/** The address a 32-byte public key spells (for tests that hold raw keys). */
export function addressFromBytes(bytes: Uint8Array): Address {
  return addressDecoder.decode(bytes);
}
