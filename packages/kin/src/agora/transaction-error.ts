import { create } from "@bufbuild/protobuf";
import {
  TransactionError_Reason as Reason,
  type TransactionError,
  TransactionErrorSchema,
} from "../gen/agora/common/v4/model_pb.js";

// SPL Token's TokenError codes, as `{"Custom": n}` carries them.
const TOKEN_INSUFFICIENT_FUNDS = 1;
const TOKEN_OWNER_MISMATCH = 4;
const TOKEN_UNINITIALIZED_STATE = 9;
const TOKEN_INVALID_STATE = 13;
const TOKEN_ACCOUNT_FROZEN = 17;

const TRANSACTION_REASONS: Readonly<Record<string, Reason>> = {
  BlockhashNotFound: Reason.BAD_NONCE,
  AccountNotFound: Reason.INVALID_ACCOUNT,
  InvalidAccountForFee: Reason.INVALID_ACCOUNT,
  MissingSignatureForFee: Reason.UNAUTHORIZED,
  SignatureFailure: Reason.UNAUTHORIZED,
};

const INSTRUCTION_REASONS: Readonly<Record<string, Reason>> = {
  GenericError: Reason.UNKNOWN,
  InsufficientFunds: Reason.INSUFFICIENT_FUNDS,
  MissingRequiredSignature: Reason.UNAUTHORIZED,
  UninitializedAccount: Reason.INVALID_ACCOUNT,
  InvalidAccountData: Reason.INVALID_ACCOUNT,
};

const CUSTOM_REASONS: Readonly<Record<number, Reason>> = {
  [TOKEN_INSUFFICIENT_FUNDS]: Reason.INSUFFICIENT_FUNDS,
  [TOKEN_OWNER_MISMATCH]: Reason.UNAUTHORIZED,
  [TOKEN_UNINITIALIZED_STATE]: Reason.INVALID_ACCOUNT,
  [TOKEN_INVALID_STATE]: Reason.INVALID_ACCOUNT,
  [TOKEN_ACCOUNT_FROZEN]: Reason.INVALID_ACCOUNT,
};

/**
 * A stored Solana transaction error (the RPC's TransactionError as JSON) as
 * agora v0.2.7 reports it: the raw JSON, the failing instruction's index for an
 * InstructionError, and the reason agora maps the error to (NONE when it maps
 * none). JSON that is not an RPC error at all gives UNKNOWN, where agora would
 * fail the whole request.
 */
export function transactionErrorOf(raw: Uint8Array): TransactionError {
  const error = create(TransactionErrorSchema, { raw });
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    error.reason = Reason.UNKNOWN;
    return error;
  }
  if (typeof parsed === "string") {
    error.reason = TRANSACTION_REASONS[parsed] ?? Reason.NONE;
    return error;
  }
  const [key, value] = singleEntry(parsed) ?? [];
  if (key === undefined) {
    error.reason = Reason.UNKNOWN;
  } else if (key !== "InstructionError") {
    error.reason = TRANSACTION_REASONS[key] ?? Reason.NONE;
  } else if (Array.isArray(value) && value.length === 2 && Number.isInteger(value[0])) {
    error.instructionIndex = value[0] as number;
    error.reason = instructionReason(value[1]);
  } else {
    error.reason = Reason.UNKNOWN;
  }
  return error;
}

function instructionReason(error: unknown): Reason {
  if (typeof error === "string") return INSTRUCTION_REASONS[error] ?? Reason.NONE;
  const [key, value] = singleEntry(error) ?? [];
  if (key === "Custom" && typeof value === "number") return CUSTOM_REASONS[value] ?? Reason.NONE;
  return Reason.NONE;
}

/** The one key of a `{"Name": value}` object, the RPC's shape for an error with data. */
function singleEntry(value: unknown): [string, unknown] | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  return entries.length === 1 ? (entries[0] as [string, unknown]) : undefined;
}
