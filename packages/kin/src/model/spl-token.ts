// From the sub-packages, not kit: worker threads load this module, and kit would cost each one about 25 MB.
import { type Address, getAddressDecoder } from "@solana/addresses";

/** The SPL Token program (the Kin mint lives under it). */
export const TOKEN_PROGRAM_ADDRESS = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA" as Address;

/** The Kin mint on Solana mainnet; Kin has 5 decimals, so raw token amounts are quarks. */
export const KIN_MINT_ADDRESS = "kinXdEcpDQeHPEuQnqmUgtYykqKGVFq6CeVX5iAHJq6" as Address;

/** An SPL Token instruction the Kin ingestor understands, with its accounts resolved to addresses. */
export type TokenInstruction =
  | { readonly kind: "initializeAccount"; readonly account: Address; readonly mint: Address; readonly owner: Address }
  | {
      readonly kind: "transfer";
      readonly source: Address;
      readonly destination: Address;
      readonly authority: Address;
      readonly amount: bigint;
    }
  | {
      readonly kind: "transferChecked";
      readonly source: Address;
      readonly mint: Address;
      readonly destination: Address;
      readonly authority: Address;
      readonly amount: bigint;
      readonly decimals: number;
    }
  | {
      readonly kind: "setAuthority";
      readonly account: Address;
      readonly currentAuthority: Address;
      readonly authorityType: number;
      readonly newAuthority: Address | null;
    }
  | {
      readonly kind: "mintTo";
      readonly mint: Address;
      readonly destination: Address;
      readonly authority: Address;
      readonly amount: bigint;
    }
  | {
      readonly kind: "burn";
      readonly account: Address;
      readonly mint: Address;
      readonly authority: Address;
      readonly amount: bigint;
    }
  | {
      readonly kind: "closeAccount";
      readonly account: Address;
      readonly destination: Address;
      readonly authority: Address;
    };

// SPL Token instruction discriminators (the first data byte).
const INITIALIZE_ACCOUNT = 1;
const TRANSFER = 3;
const SET_AUTHORITY = 6;
const MINT_TO = 7;
const BURN = 8;
const CLOSE_ACCOUNT = 9;
const TRANSFER_CHECKED = 12;
const MINT_TO_CHECKED = 14;
const BURN_CHECKED = 15;
const INITIALIZE_ACCOUNT_2 = 16;
const INITIALIZE_ACCOUNT_3 = 18;

const addressDecoder = getAddressDecoder();

/**
 * Decodes one SPL Token instruction from its accounts (already resolved to
 * addresses) and data. Returns null for instructions the Kin ingestor does not
 * follow and for malformed ones (too few accounts, short data): the program
 * would have rejected those, so they moved no Kin.
 */
export function decodeTokenInstruction(accounts: readonly Address[], data: Uint8Array): TokenInstruction | null {
  const at = (i: number): Address | undefined => accounts[i];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const amountAt = (offset: number): bigint | null =>
    data.length >= offset + 8 ? view.getBigUint64(offset, true) : null;
  switch (data[0]) {
    case INITIALIZE_ACCOUNT: {
      const [account, mint, owner] = [at(0), at(1), at(2)];
      return account && mint && owner ? { kind: "initializeAccount", account, mint, owner } : null;
    }
    case INITIALIZE_ACCOUNT_2:
    case INITIALIZE_ACCOUNT_3: {
      const [account, mint] = [at(0), at(1)];
      if (!account || !mint || data.length < 33) return null;
      return { kind: "initializeAccount", account, mint, owner: addressDecoder.decode(data.subarray(1, 33)) };
    }
    case TRANSFER: {
      const [source, destination, authority] = [at(0), at(1), at(2)];
      const amount = amountAt(1);
      return source && destination && authority && amount !== null
        ? { kind: "transfer", source, destination, authority, amount }
        : null;
    }
    case TRANSFER_CHECKED: {
      const [source, mint, destination, authority] = [at(0), at(1), at(2), at(3)];
      const amount = amountAt(1);
      if (!source || !mint || !destination || !authority || amount === null || data.length < 10) return null;
      return { kind: "transferChecked", source, mint, destination, authority, amount, decimals: data[9] as number };
    }
    case SET_AUTHORITY: {
      const [account, currentAuthority] = [at(0), at(1)];
      if (!account || !currentAuthority || data.length < 3) return null;
      const hasNew = data[2] === 1;
      if (hasNew && data.length < 35) return null;
      const newAuthority = hasNew ? addressDecoder.decode(data.subarray(3, 35)) : null;
      return { kind: "setAuthority", account, currentAuthority, authorityType: data[1] as number, newAuthority };
    }
    case MINT_TO:
    case MINT_TO_CHECKED: {
      const [mint, destination, authority] = [at(0), at(1), at(2)];
      const amount = amountAt(1);
      return mint && destination && authority && amount !== null
        ? { kind: "mintTo", mint, destination, authority, amount }
        : null;
    }
    case BURN:
    case BURN_CHECKED: {
      const [account, mint, authority] = [at(0), at(1), at(2)];
      const amount = amountAt(1);
      return account && mint && authority && amount !== null
        ? { kind: "burn", account, mint, authority, amount }
        : null;
    }
    case CLOSE_ACCOUNT: {
      const [account, destination, authority] = [at(0), at(1), at(2)];
      return account && destination && authority ? { kind: "closeAccount", account, destination, authority } : null;
    }
    default:
      return null;
  }
}

/** The token accounts an instruction reads or moves Kin on (not wallets, not the mint). */
export function tokenAccountsOf(instruction: TokenInstruction): Address[] {
  switch (instruction.kind) {
    case "setAuthority":
      // Types 0 and 1 (mint and freeze authority) act on the mint, not on a token account.
      return instruction.authorityType <= 1 ? [] : [instruction.account];
    case "initializeAccount":
    case "burn":
    case "closeAccount":
      return [instruction.account];
    case "transfer":
    case "transferChecked":
      return [instruction.source, instruction.destination];
    case "mintTo":
      return [instruction.destination];
  }
}

/** The mint an instruction names itself, when it does. */
export function mintOf(instruction: TokenInstruction): Address | null {
  return "mint" in instruction ? instruction.mint : null;
}

/** The signer that authorised the instruction (owner, delegate or mint authority). */
export function authorityOf(instruction: TokenInstruction): Address {
  switch (instruction.kind) {
    case "initializeAccount":
      return instruction.owner;
    case "setAuthority":
      return instruction.currentAuthority;
    default:
      return instruction.authority;
  }
}
