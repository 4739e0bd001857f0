import { type Address, generateKeyPairSigner, type Instruction } from "@solana/kit";
import {
  AuthorityType,
  getBurnCheckedInstruction,
  getBurnInstruction,
  getCloseAccountInstruction,
  getInitializeAccount2Instruction,
  getInitializeAccount3Instruction,
  getInitializeAccountInstruction,
  getMintToCheckedInstruction,
  getMintToInstruction,
  getSetAuthorityInstruction,
  getSyncNativeInstruction,
  getTransferCheckedInstruction,
  getTransferInstruction,
} from "@solana-program/token";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeTokenInstruction, KIN_MINT_ADDRESS, TOKEN_PROGRAM_ADDRESS } from "../src/index.js";

// The decoder is tidemark's own; the instructions come from the official SPL Token client, so each checks the other.
function decode(instruction: Instruction) {
  expect(instruction.programAddress).toBe(TOKEN_PROGRAM_ADDRESS);
  const accounts = (instruction.accounts ?? []).map((a) => a.address);
  return decodeTokenInstruction(accounts, new Uint8Array(instruction.data ?? []));
}

describe("SPL Token instruction decoding", () => {
  let a: Address;
  let b: Address;
  let owner: Awaited<ReturnType<typeof generateKeyPairSigner>>;
  beforeAll(async () => {
    a = (await generateKeyPairSigner()).address;
    b = (await generateKeyPairSigner()).address;
    owner = await generateKeyPairSigner();
  });

  it("reads Transfer and TransferChecked (amounts in quarks)", () => {
    expect(
      decode(getTransferInstruction({ source: a, destination: b, authority: owner, amount: 123_456_789n })),
    ).toEqual({
      kind: "transfer",
      source: a,
      destination: b,
      authority: owner.address,
      amount: 123_456_789n,
    });
    expect(
      decode(
        getTransferCheckedInstruction({
          source: a,
          mint: KIN_MINT_ADDRESS,
          destination: b,
          authority: owner,
          amount: 5n,
          decimals: 5,
        }),
      ),
    ).toEqual({
      kind: "transferChecked",
      source: a,
      mint: KIN_MINT_ADDRESS,
      destination: b,
      authority: owner.address,
      amount: 5n,
      decimals: 5,
    });
  });

  it("reads the three InitializeAccount forms, with the owner from accounts or data", () => {
    const expected = { kind: "initializeAccount", account: a, mint: KIN_MINT_ADDRESS, owner: owner.address };
    expect(
      decode(getInitializeAccountInstruction({ account: a, mint: KIN_MINT_ADDRESS, owner: owner.address })),
    ).toEqual(expected);
    expect(
      decode(getInitializeAccount2Instruction({ account: a, mint: KIN_MINT_ADDRESS, owner: owner.address })),
    ).toEqual(expected);
    expect(
      decode(getInitializeAccount3Instruction({ account: a, mint: KIN_MINT_ADDRESS, owner: owner.address })),
    ).toEqual(expected);
  });

  it("reads SetAuthority with and without a new authority", () => {
    expect(
      decode(
        getSetAuthorityInstruction({ owned: a, owner, authorityType: AuthorityType.AccountOwner, newAuthority: b }),
      ),
    ).toEqual({
      kind: "setAuthority",
      account: a,
      currentAuthority: owner.address,
      authorityType: AuthorityType.AccountOwner,
      newAuthority: b,
    });
    expect(
      decode(
        getSetAuthorityInstruction({ owned: a, owner, authorityType: AuthorityType.CloseAccount, newAuthority: null }),
      ),
    ).toMatchObject({
      kind: "setAuthority",
      newAuthority: null,
    });
  });

  it("reads MintTo, Burn, their checked forms and CloseAccount", () => {
    expect(
      decode(getMintToInstruction({ mint: KIN_MINT_ADDRESS, token: a, mintAuthority: owner, amount: 9n })),
    ).toEqual({
      kind: "mintTo",
      mint: KIN_MINT_ADDRESS,
      destination: a,
      authority: owner.address,
      amount: 9n,
    });
    expect(
      decode(
        getMintToCheckedInstruction({
          mint: KIN_MINT_ADDRESS,
          token: a,
          mintAuthority: owner,
          amount: 9n,
          decimals: 5,
        }),
      ),
    ).toMatchObject({
      kind: "mintTo",
      amount: 9n,
    });
    expect(decode(getBurnInstruction({ account: a, mint: KIN_MINT_ADDRESS, authority: owner, amount: 3n }))).toEqual({
      kind: "burn",
      account: a,
      mint: KIN_MINT_ADDRESS,
      authority: owner.address,
      amount: 3n,
    });
    expect(
      decode(
        getBurnCheckedInstruction({ account: a, mint: KIN_MINT_ADDRESS, authority: owner, amount: 3n, decimals: 5 }),
      ),
    ).toMatchObject({
      kind: "burn",
    });
    expect(decode(getCloseAccountInstruction({ account: a, destination: b, owner }))).toEqual({
      kind: "closeAccount",
      account: a,
      destination: b,
      authority: owner.address,
    });
  });

  it("ignores instructions Kin does not follow and malformed ones", () => {
    expect(decode(getSyncNativeInstruction({ account: a }))).toBeNull();
    const transfer = getTransferInstruction({ source: a, destination: b, authority: owner, amount: 1n });
    const data = new Uint8Array(transfer.data ?? []);
    expect(decodeTokenInstruction([a, b], data)).toBeNull(); // too few accounts
    expect(decodeTokenInstruction([a, b, owner.address], data.subarray(0, 5))).toBeNull(); // truncated amount
    expect(decodeTokenInstruction([a, b, owner.address], new Uint8Array())).toBeNull();
  });
});
