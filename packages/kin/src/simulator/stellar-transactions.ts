import { createHash } from "node:crypto";
import { Account, Asset, Keypair, Operation, TransactionBuilder, xdr } from "@stellar/stellar-sdk";
import type { StellarNetwork } from "../stellar/networks.js";
import type { TransactionRecordInit } from "./stellar-ledgers.js";

/** One operation of a simulated Stellar transaction. */
export type StellarOperation =
  | { readonly type: "payment"; readonly to: number; readonly amount: string; readonly source?: number }
  | { readonly type: "createAccount"; readonly to: number; readonly startingBalance: string; readonly source?: number }
  | { readonly type: "accountMerge"; readonly to: number; readonly source?: number }
  | { readonly type: "changeTrust"; readonly source?: number };

type ResultWire = Parameters<typeof xdr.TransactionResult.fromXdrObject>[0];

/**
 * Signs Kin2/Kin3 transactions as Kin wallets did: pre-protocol-13 (v0)
 * envelopes under the network's passphrase, paying Kin as the network holds
 * it (native on Kin3, the issued KIN asset on Kin2), with matching result XDR.
 */
export class StellarTransactionFactory {
  readonly network: StellarNetwork;
  readonly #seed: string;
  readonly #sequences = new Map<number, bigint>();

  constructor(network: StellarNetwork, seed = "tidemark") {
    this.network = network;
    this.#seed = seed;
  }

  /** The keypair of simulated account `index`. */
  keypair(index: number): Keypair {
    return Keypair.fromRawEd25519Seed(createHash("sha256").update(`${this.#seed}/stellar/${index}`).digest());
  }

  /** The G... address of simulated account `index`. */
  address(index: number): string {
    return this.keypair(index).publicKey();
  }

  /** A signed transaction from account `from`; `failed` records it as txFAILED (underfunded). */
  build(
    from: number,
    operations: readonly StellarOperation[],
    options: { failed?: boolean; memo?: string } = {},
  ): TransactionRecordInit {
    const source = this.keypair(from);
    const sequence = (this.#sequences.get(from) ?? 1000n) + 1n;
    this.#sequences.set(from, sequence);
    const kin =
      this.network.kin === "native" ? Asset.native() : new Asset(this.network.kin.code, this.network.kin.issuer);
    let builder = new TransactionBuilder(new Account(source.publicKey(), (sequence - 1n).toString()), {
      fee: "100",
      networkPassphrase: this.network.passphrase,
    });
    for (const op of operations) {
      const opSource = op.source === undefined ? {} : { source: this.address(op.source) };
      if (op.type === "payment")
        builder = builder.addOperation(
          Operation.payment({ destination: this.address(op.to), asset: kin, amount: op.amount, ...opSource }),
        );
      else if (op.type === "createAccount") {
        builder = builder.addOperation(
          Operation.createAccount({
            destination: this.address(op.to),
            startingBalance: op.startingBalance,
            ...opSource,
          }),
        );
      } else if (op.type === "accountMerge")
        builder = builder.addOperation(Operation.accountMerge({ destination: this.address(op.to), ...opSource }));
      else
        builder = builder.addOperation(
          Operation.changeTrust({ asset: kin.isNative() ? new Asset("KIN", this.address(99)) : kin, ...opSource }),
        );
    }
    const v1 = builder.setTimeout(0).build().toEnvelope().toXdrObject();
    if (v1.type !== 2) throw new Error("expected a v1 envelope from TransactionBuilder");
    const tx = v1.v1.tx;
    // Kin's networks predate protocol 13: their envelopes are the v0 form, hashed the same way.
    const envelope = xdr.TransactionEnvelope.fromXdrObject({
      type: 0,
      v0: {
        tx: {
          sourceAccountEd25519: source.rawPublicKey(),
          fee: tx.fee,
          seqNum: tx.seqNum,
          timeBounds: tx.cond.type === 1 ? tx.cond.timeBounds : null,
          memo: tx.memo,
          operations: tx.operations,
          ext: { v: 0 },
        },
        signatures: [],
      },
    });
    const transaction = TransactionBuilder.fromXDR(envelope, this.network.passphrase);
    transaction.sign(source);
    for (const op of operations)
      if (op.source !== undefined && op.source !== from) transaction.sign(this.keypair(op.source));
    return {
      hash: Buffer.from(transaction.hash()).toString("hex"),
      envelopeXdr: transaction.toEnvelope().toXDR("base64"),
      resultXdr: resultXdr(operations, options.failed ?? false),
      sourceAccount: source.publicKey(),
      successful: !(options.failed ?? false),
      operationCount: operations.length,
    };
  }

  /** A one-payment transaction. */
  payment(from: number, to: number, amount: string, options: { failed?: boolean } = {}): TransactionRecordInit {
    return this.build(from, [{ type: "payment", to, amount }], options);
  }
}

function resultXdr(operations: readonly StellarOperation[], failed: boolean): string {
  const results = operations.map((op, i) => {
    // A failed transaction: its first payment was underfunded (PAYMENT_UNDERFUNDED = -2).
    const code = failed && i === 0 ? -2 : 0;
    switch (op.type) {
      case "payment":
        return { code: 0, tr: { type: 1, paymentResult: { code } } };
      case "createAccount":
        return { code: 0, tr: { type: 0, createAccountResult: { code } } };
      case "accountMerge":
        return {
          code: 0,
          tr: { type: 8, accountMergeResult: code === 0 ? { code: 0, sourceAccountBalance: 10_000_000n } : { code } },
        };
      default:
        return { code: 0, tr: { type: 6, changeTrustResult: { code } } };
    }
  });
  const wire = {
    feeCharged: 100n * BigInt(operations.length),
    result: { code: failed ? -1 : 0, results },
    ext: { v: 0 },
  };
  return xdr.TransactionResult.fromXdrObject(wire as unknown as ResultWire).toXDR("base64");
}
