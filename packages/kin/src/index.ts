export { KinRpcError, RpcResponseError } from "./errors.js";
export {
  type Entry,
  EntrySchema,
  KinVersion,
  type SolanaEntry,
  SolanaEntrySchema,
  type SolanaInnerInstruction,
  SolanaInnerInstructionSchema,
  type SolanaTokenAccount,
  SolanaTokenAccountSchema,
  type SolanaTransactionMeta,
  SolanaTransactionMetaSchema,
  type StellarEntry,
  StellarEntrySchema,
} from "./gen/model_pb.js";
export {
  agoraAccounts,
  createKinHistoryCodec,
  entryBlock,
  type KinHistoryCodecOptions,
  kinHistoryCodec,
  orderingKey,
  transactionId,
} from "./model/codec.js";
export { reconcileKinEntries } from "./model/double-insert.js";
export {
  createSolanaEntry,
  createStellarEntry,
  decodeEntry,
  encodeEntry,
  type SolanaEntryInit,
  type StellarEntryInit,
  solanaBody,
  stellarBody,
} from "./model/entry.js";
export { globalHistorySlot, orderingKeyOfSlot } from "./model/global-history.js";
export { ledgerFromPointer, slotFromPointer, solanaPointer, stellarPointer } from "./model/pointer.js";
export {
  type AgoraTransfer,
  type CompiledInstructionView,
  type DecodedSolanaTransaction,
  decodeSolanaTransaction,
  type KinTokenInstruction,
  kinInstructions,
  solanaAccounts,
  solanaAgoraAccounts,
  solanaAgoraTransfers,
  solanaOrderingKey,
  solanaTokenAccounts,
  solanaTokenInstructions,
  solanaTransactionId,
  type TokenAccountInfo,
} from "./model/solana.js";
export {
  decodeTokenInstruction,
  KIN_MINT_ADDRESS,
  TOKEN_PROGRAM_ADDRESS,
  type TokenInstruction,
} from "./model/spl-token.js";
export {
  type StellarPayment,
  stellarAccounts,
  stellarOrderingKey,
  stellarPayments,
  stellarTransactionId,
} from "./model/stellar.js";
export { storedKinHistoryCodec } from "./model/stored-entry-codec.js";
export { getEventsIngestorName, getHistoryIngestorName, kinVersionName } from "./model/version.js";
export type { ChainRequest, RequestListener } from "./request-listener.js";
export type { RetryOptions } from "./retry.js";
export type { RetryInfo, RetryKind, RetryListener } from "./retry-listener.js";
export { KinSolanaIngestor } from "./solana/kin4-ingestor.js";
export type { KinSolanaIngestorOptions } from "./solana/options.js";
export { KinStellarIngestor } from "./stellar/kin-stellar-ingestor.js";
export {
  KIN2_MAINNET,
  KIN2_TESTNET,
  KIN3_MAINNET,
  KIN3_TESTNET,
  quarksFromStellarAmount,
  STELLAR_PUBNET_PASSPHRASE,
  type StellarNetwork,
} from "./stellar/networks.js";
export type { KinStellarIngestorOptions } from "./stellar/options.js";
