import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Logger, silentLogger } from "@tidemark/core";
import {
  GetHistoryRequest_Direction,
  type GetHistoryResponse,
  type GetTransactionResponse,
  GetTransactionResponse_State,
  GetTransactionResponseSchema,
  type Transaction,
} from "../gen/agora/transaction/v4/transaction_service_pb.js";
import { type Entry, KinVersion } from "../gen/model_pb.js";
import { decodeEntry } from "../model/entry.js";
import { accountPage, type HistorySource, type KinHistoryReader } from "./account-history.js";
import { accountKeys } from "./account-keys.js";
import { pageStart } from "./cursor.js";
import { historyItemOf } from "./history-item.js";
import { historyResponse, isProtobufRequest } from "./history-response.js";
import { invalidArgument } from "./request-errors.js";

export interface TransactionServiceOptions {
  /**
   * The history reader of each Kin version the server answers for (kin4
   * always; kin2/kin3 when configured). Readers show committed entries only.
   * Versions may share one reader: each transaction is reported once.
   * Readers may return entries decoded or as stored (`encodeEntry`'s bytes,
   * e.g. through core's `encodedCodec`); stored Kin4 entries are served
   * without being decoded.
   */
  readonly history: (version: KinVersion) => KinHistoryReader | undefined;
  /** Where failures behind an INTERNAL answer are logged (default: nowhere). */
  readonly logger?: Logger;
  /**
   * GetHistory answers a protobuf request (gRPC, gRPC-Web, Connect binary)
   * with its items pre-encoded, as unknown fields of the response numbered
   * like `items`: protobuf writes those verbatim, so the wire bytes are the
   * repeated field's, and no item message is built. Only for a server that
   * writes unknown fields (Connect's default) and reads no `items` on the way
   * (an interceptor would see none). Default false: items as messages.
   */
  readonly encodedItems?: boolean;
}

const STELLAR_VERSIONS = [KinVersion.KIN3, KinVersion.KIN2] as const;

/**
 * The `GetHistory` and `GetTransaction` methods of agora's
 * `kin.agora.transaction.v4.Transaction` service over tidemark history
 * readers, answering as agora v0.2.7's Solana server does (see the README's
 * "agora's Transaction API" section). Register it with a Connect router
 * (`router.service(Transaction, createTransactionService(...))`); the other
 * methods of the service are left out, so they answer UNIMPLEMENTED.
 *
 * Bad requests get INVALID_ARGUMENT with a message that starts with the field
 * at fault; any other failure gets INTERNAL with a fixed message, the error
 * itself going only to `logger`.
 */
export function createTransactionService(options: TransactionServiceOptions): Partial<ServiceImpl<typeof Transaction>> {
  const logger = options.logger ?? silentLogger;
  const readers = (versions: readonly KinVersion[]) => [
    ...new Set(versions.map((v) => options.history(v)).filter((r) => r !== undefined)),
  ];

  /** Where an account's entries are: agora's strkey everywhere, and the base58 address where Kin4 entries are. */
  const sources = (keys: { strkey: string; base58: string }): HistorySource[] => {
    const kin4 = options.history(KinVersion.KIN4);
    return readers([KinVersion.KIN4, ...STELLAR_VERSIONS]).map((reader) => ({
      reader,
      keys: reader === kin4 ? [keys.strkey, keys.base58] : [keys.strkey],
    }));
  };

  return {
    getHistory: (request, context) =>
      guarded(logger, context, "failed to get transactions", async (): Promise<GetHistoryResponse> => {
        const keys = accountKeys(request.accountId);
        const order = directionOf(request.direction);
        const start = pageStart(request.cursor, context.requestHeader);
        const page = await accountPage(sources(keys), order, start, options.history);
        return historyResponse(page, options.encodedItems === true && isProtobufRequest(context));
      }),

    getTransaction: (request, context) =>
      guarded(logger, context, "failed to load transaction", async (): Promise<GetTransactionResponse> => {
        const id = request.transactionId;
        if (id === undefined) throw invalidArgument("transaction_id", "is required");
        const size = id.value.length;
        if (size !== 32 && size !== 64) {
          throw invalidArgument(
            "transaction_id.value",
            `must be a 32-byte Stellar transaction hash or a 64-byte Solana signature, got ${size} bytes`,
          );
        }
        for (const reader of readers(size === 64 ? [KinVersion.KIN4] : STELLAR_VERSIONS)) {
          const entry = await reader.getTransaction(id.value);
          if (entry !== null) return transactionResponse(entry instanceof Uint8Array ? decodeEntry(entry) : entry);
        }
        return create(GetTransactionResponseSchema, { state: GetTransactionResponse_State.UNKNOWN });
      }),
  };
}

/** agora reads every direction but DESC as ascending. */
function directionOf(direction: GetHistoryRequest_Direction): "asc" | "desc" {
  return direction === GetHistoryRequest_Direction.DESC ? "desc" : "asc";
}

/**
 * agora's states: a Solana entry with an error FAILED, an unconfirmed one
 * PENDING (agora would ask the node for its confirmations; tidemark reports
 * 0), otherwise SUCCESS with its slot. A Stellar entry is SUCCESS.
 */
function transactionResponse(entry: Entry): GetTransactionResponse {
  const item = historyItemOf(entry);
  if (entry.kind.case !== "solana") {
    return create(GetTransactionResponseSchema, { state: GetTransactionResponse_State.SUCCESS, item });
  }
  const solana = entry.kind.value;
  const state =
    solana.transactionError.length > 0
      ? GetTransactionResponse_State.FAILED
      : solana.confirmed
        ? GetTransactionResponse_State.SUCCESS
        : GetTransactionResponse_State.PENDING;
  return create(GetTransactionResponseSchema, { state, slot: solana.slot.toString(), item });
}

/**
 * Runs a handler so that only refusals (ConnectErrors) reach the client as
 * they are: anything else is logged and answered INTERNAL with `message`, as
 * agora does, never with the error's own text.
 */
async function guarded<T>(
  logger: Logger,
  context: HandlerContext,
  message: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    if (context.signal.aborted) throw new ConnectError("request cancelled", Code.Canceled);
    logger.error({ method: context.method.name, err: error }, `agora transaction service: ${message}`);
    throw new ConnectError(message, Code.Internal);
  }
}
