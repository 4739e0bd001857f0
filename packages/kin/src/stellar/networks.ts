import { InvalidArgumentError } from "@tidemark/core";
import { KinVersion } from "../gen/model_pb.js";

/** A Stellar-protocol network the Horizon ingestor can follow. */
export interface StellarNetwork {
  /** The version byte of its pointers and entries. */
  readonly version: KinVersion.KIN2 | KinVersion.KIN3;
  readonly passphrase: string;
  /** Where Kin lives on it: `native`, or the issued asset's code and issuer. */
  readonly kin: "native" | { readonly code: string; readonly issuer: string };
  /** XDR amount units per quark (Kin has 5 decimals; Kin2 used Stellar's 7, Kin3 its own 5). */
  readonly unitsPerQuark: bigint;
}

/** Kin2 mainnet: KIN is an issued asset in 1e-7 units. */
export const KIN2_MAINNET: StellarNetwork = {
  version: KinVersion.KIN2,
  passphrase: "Public Global Kin Ecosystem Network ; June 2018",
  kin: { code: "KIN", issuer: "GDF42M3IPERQCBLWFEZKQRK77JQ65SCKTU3CW36HZVCX7XX5A5QXZIVK" },
  unitsPerQuark: 100n,
};

/** Kin2 testnet ("Kin Playground"). */
export const KIN2_TESTNET: StellarNetwork = {
  version: KinVersion.KIN2,
  passphrase: "Kin Playground Network ; June 2018",
  kin: { code: "KIN", issuer: "GBC3SG6NGTSZ2OMH3FFGB7UVRQWILW367U4GSOOF4TFSZONV42UJXUH7" },
  unitsPerQuark: 100n,
};

/** Kin3 mainnet: Kin is the native asset in 1e-5 units (quarks). */
export const KIN3_MAINNET: StellarNetwork = {
  version: KinVersion.KIN3,
  passphrase: "Kin Mainnet ; December 2018",
  kin: "native",
  unitsPerQuark: 1n,
};

/** Kin3 testnet. */
export const KIN3_TESTNET: StellarNetwork = {
  version: KinVersion.KIN3,
  passphrase: "Kin Testnet ; December 2018",
  kin: "native",
  unitsPerQuark: 1n,
};

/** The Stellar public network's passphrase; the ingestor follows it like any Horizon. */
export const STELLAR_PUBNET_PASSPHRASE = "Public Global Stellar Network ; September 2015";

/** Converts an XDR amount of Kin on `network` into quarks; throws when it is not a whole number of quarks. */
export function quarksFromStellarAmount(amount: bigint, network: StellarNetwork): bigint {
  if (amount % network.unitsPerQuark !== 0n) {
    throw new InvalidArgumentError(`${amount} units is not a whole number of quarks on "${network.passphrase}"`);
  }
  return amount / network.unitsPerQuark;
}
