"""Looks up one transaction through the official Kin Python SDK (kin-sdk-v2), as a Kin app would.

    get_transaction.py HOST:PORT TXID

TXID is a base58 signature (Kin 4) or a hex hash or signature. Prints one JSON object: the state,
the id, the payments as the SDK parsed them (with each payment's instruction index from the wire),
and every RPC the SDK made. A gRPC error prints {"rpcError": {...}} and exits 3.
"""

import json
import re
import sys

import agoraapi_aliases  # noqa: F401  (first: see its docstring)
import base58
import grpc
from agora.client import Client, Environment, RetryConfig


class Recorder(grpc.UnaryUnaryClientInterceptor):
    """Sees each call the SDK makes, so the caller can check it made exactly one, and keeps the responses."""

    def __init__(self):
        self.methods = []
        self.responses = []

    def intercept_unary_unary(self, continuation, details, request):
        self.methods.append(details.method)
        outcome = continuation(details, request)
        if outcome.exception() is None:
            self.responses.append(outcome.result())
        return outcome


def parse_id(text):
    if re.fullmatch(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{128}", text):
        return bytes.fromhex(text)
    return base58.b58decode(text)


def show_id(raw):
    return base58.b58encode(raw).decode() if len(raw) == 64 else raw.hex()


def show_errors(errors):
    if errors is None:
        return None
    return {
        "txError": type(errors.tx_error).__name__ if errors.tx_error else None,
        "opErrors": [type(e).__name__ if e else None for e in (errors.op_errors or [])],
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    target, tx_id = sys.argv[1], parse_id(sys.argv[2])
    recorder = Recorder()
    # The server is local: an http_proxy in the environment must not reroute it.
    with grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        # No retries: one request, whatever it answers.
        client = Client(
            Environment.TEST,
            grpc_channel=grpc.intercept_channel(channel, recorder),
            retry_config=RetryConfig(max_retries=0),
        )
        try:
            data = client.get_transaction(tx_id)
        except grpc.RpcError as error:
            json.dump(
                {"rpcError": {"code": error.code().name, "details": error.details()}, "rpcs": recorder.methods},
                sys.stdout,
            )
            print()
            sys.exit(3)
    wire = recorder.responses[-1].item.payments if recorder.responses else []
    payments = []
    for position, payment in enumerate(data.payments):
        payments.append(
            {
                "sender": payment.sender.to_base58(),
                "destination": payment.destination.to_base58(),
                "quarks": str(payment.quarks),
                "index": wire[position].index if position < len(wire) else None,
                "txType": payment.tx_type.name,
                "memo": payment.memo if isinstance(payment.memo, str) or payment.memo is None else str(payment.memo),
            }
        )
    json.dump(
        {
            "state": data.transaction_state.name,
            "txId": show_id(data.tx_id),
            "payments": payments,
            "error": show_errors(data.error),
            "rpcs": recorder.methods,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
