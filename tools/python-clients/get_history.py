"""Pages through an account's history with agora-api's own generated gRPC stubs.

    get_history.py HOST:PORT ACCOUNT asc|desc

ACCOUNT is a base58 Solana account (32 bytes). Each page continues from the cursor of the previous
page's last item, until a page comes back empty. Prints one JSON line per item, named as
`tidemark history account --json` names its fields (txId, transaction or envelopeXdr/resultXdr,
transactionError, blockTime), plus the item's cursor (hex), payments and the page it came on.
A gRPC error prints {"rpcError": {...}} and exits 3.
"""

import base64
import json
import sys
from datetime import datetime, timezone

import agoraapi_aliases  # noqa: F401  (first: see its docstring)
import base58
import grpc
from agoraapi.common.v4 import model_pb2
from agoraapi.transaction.v4 import transaction_service_pb2 as tx_pb
from agoraapi.transaction.v4 import transaction_service_pb2_grpc as tx_grpc

# Far more than any test history; a server whose cursor never ends must not loop forever.
MAX_PAGES = 10_000


def show_id(raw):
    return base58.b58encode(raw).decode() if len(raw) == 64 else raw.hex()


def show_time(item):
    if not item.HasField("transaction_time"):
        return None
    t = item.transaction_time
    # As JavaScript's toISOString prints it: milliseconds, truncated.
    return datetime.fromtimestamp(t.seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.nanos // 1_000_000:03d}Z"


def show_error(item):
    if not item.HasField("transaction_error"):
        return None
    error = item.transaction_error
    return {
        "reason": model_pb2.TransactionError.Reason.Name(error.reason),
        "instructionIndex": error.instruction_index,
        "raw": error.raw.decode("utf-8", "replace"),
    }


def view(item, page):
    out = {"txId": show_id(item.transaction_id.value), "cursor": item.cursor.value.hex()}
    kind = item.WhichOneof("raw_transaction")
    if kind == "solana_transaction":
        out["transaction"] = base64.b64encode(item.solana_transaction.value).decode()
    elif kind == "stellar_transaction":
        out["envelopeXdr"] = base64.b64encode(item.stellar_transaction.envelope_xdr).decode()
        out["resultXdr"] = base64.b64encode(item.stellar_transaction.result_xdr).decode()
    out["transactionError"] = show_error(item)
    out["blockTime"] = show_time(item)
    out["payments"] = [
        {
            "source": base58.b58encode(p.source.value).decode(),
            "destination": base58.b58encode(p.destination.value).decode(),
            "amount": str(p.amount),
            "index": p.index,
        }
        for p in item.payments
    ]
    out["page"] = page
    return out


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("asc", "desc"):
        sys.exit(__doc__)
    target, account, order = sys.argv[1], base58.b58decode(sys.argv[2]), sys.argv[3]
    direction = tx_pb.GetHistoryRequest.DESC if order == "desc" else tx_pb.GetHistoryRequest.ASC
    # The server is local: an http_proxy in the environment must not reroute it.
    with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        stub = tx_grpc.TransactionStub(channel)
        cursor = None
        for page in range(MAX_PAGES):
            request = tx_pb.GetHistoryRequest(account_id=model_pb2.SolanaAccountId(value=account), direction=direction)
            if cursor is not None:
                request.cursor.value = cursor
            try:
                response = stub.GetHistory(request, timeout=10)
            except grpc.RpcError as error:
                json.dump({"rpcError": {"code": error.code().name, "details": error.details()}, "page": page}, sys.stdout)
                print()
                sys.exit(3)
            if response.result != tx_pb.GetHistoryResponse.OK:
                sys.exit(f"page {page}: result {tx_pb.GetHistoryResponse.Result.Name(response.result)}")
            if len(response.items) == 0:
                return
            for item in response.items:
                print(json.dumps(view(item, page)))
            following = response.items[-1].cursor.value
            if following == cursor:
                sys.exit(f"page {page}: the last item's cursor is the one requested; paging would not advance")
            cursor = following
    sys.exit(f"no empty page after {MAX_PAGES} pages")


if __name__ == "__main__":
    main()
