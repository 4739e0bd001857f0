import { create } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type GetHistoryResponse,
  GetHistoryResponse_Result,
  GetHistoryResponseSchema,
} from "../gen/agora/transaction/v4/transaction_service_pb.js";
import { varintSize, writeVarint } from "../model/protobuf-wire.js";
import type { PageItem } from "./page-item.js";

const ITEMS_FIELD = GetHistoryResponseSchema.field.items.number;

// gRPC, gRPC-Web and Connect content types whose messages are protobuf bytes.
const BINARY_CONTENT_TYPE = /^application\/(grpc|grpc\+proto|grpc-web|grpc-web\+proto|proto)(;|$)/i;

/** Whether the request (so its answer) is in protobuf, not JSON. */
export function isProtobufRequest(context: HandlerContext): boolean {
  return BINARY_CONTENT_TYPE.test(context.requestHeader.get("content-type") ?? "");
}

/**
 * The OK answer to a GetHistory request with `items`, as messages, or with
 * `encoded`, as their bytes: unknown fields numbered like `items`, which
 * protobuf writes verbatim, so that the response's wire bytes are the same
 * and no item message is built. Only a protobuf answer may carry them so.
 */
export function historyResponse(items: readonly PageItem[], encoded: boolean): GetHistoryResponse {
  const response = create(GetHistoryResponseSchema, { result: GetHistoryResponse_Result.OK });
  if (!encoded) {
    response.items = items.map((item) => item.message());
    return response;
  }
  const ready = items.map((item) => item.item());
  // Every item, length-prefixed, in one buffer of the page's exact size; each unknown field is a view into it.
  const out = new Uint8Array(ready.reduce((total, item) => total + varintSize(item.size) + item.size, 0));
  let at = 0;
  response.$unknown = ready.map((item) => {
    const start = at;
    at = item.write(out, writeVarint(out, at, item.size));
    return { no: ITEMS_FIELD, wireType: WireType.LengthDelimited, data: out.subarray(start, at) };
  });
  return response;
}
