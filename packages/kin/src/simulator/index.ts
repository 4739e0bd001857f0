export { type Fault, type FaultHandle, FaultInjector, type FaultRule } from "./faults.js";
export { HorizonServer, type HorizonServerOptions } from "./horizon-server.js";
export {
  addressFromBytes,
  KinBlockFactory,
  type KinBlockFactoryOptions,
  type KinWallet,
  type TransactionOptions,
  USDC_MINT_ADDRESS,
} from "./kin-block-factory.js";
export { KinNetworkSimulator, type KinNetworkSimulatorOptions, seededRandom } from "./kin-network.js";
export {
  type MainnetKinTransfer,
  MainnetShapedChain,
  type MainnetShapedChainOptions,
} from "./mainnet-shaped-chain.js";
export { type MainnetTransactionKind, VOTE_PROGRAM_ADDRESS } from "./mainnet-templates.js";
export {
  blockhashFor,
  type SimulatedBlock,
  type SimulatedTransaction,
  SolanaChain,
  type SolanaChainOptions,
} from "./solana-chain.js";
export type { SolanaLedger } from "./solana-ledger.js";
export { SolanaRpcServer, type SolanaRpcServerOptions } from "./solana-rpc-server.js";
export {
  blockFromJsonFixture,
  type JsonEncodedTransaction,
  jsonFromWireBytes,
  wireBytesFromJson,
} from "./solana-wire.js";
export {
  type HorizonRecord,
  ledgerHash,
  ledgerRecord,
  placeRecord,
  type SimulatedLedger,
  StellarLedgers,
  type TransactionRecordInit,
} from "./stellar-ledgers.js";
export { type StellarOperation, StellarTransactionFactory } from "./stellar-transactions.js";
