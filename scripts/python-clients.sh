#!/usr/bin/env bash
# Builds tools/python-clients/.venv: the official Kin Python SDK (kin-sdk-v2 0.7.1) and agora-api's
# generated gRPC stubs, the clients apps/ingestd/test/serve-python.test.ts runs against `tidemark serve`.
# Idempotent: when the venv was built from the same requirements and Python, it only checks the imports.
# Everything installs with --no-deps from exact pins (tools/python-clients/requirements.txt), since the
# SDK's own pins do not install on Python 3.11. Needs python3 with venv and ensurepip, and a C compiler
# with Python's headers for crc16 and ed25519 (PyPI has only their sources); .ci/run makes sure of those.
# PYTHON overrides the interpreter (default python3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=tools/python-clients
venv="$dir/.venv"
sdk="kin-sdk-v2==0.7.1"
python="${PYTHON:-python3}"

fail() {
  echo "python-clients: $*" >&2
  exit 1
}

command -v "$python" >/dev/null 2>&1 || fail "no $python on PATH (Debian: apt-get install python3 python3-venv)"
version="$("$python" -c 'import sys; print(sys.version)')" || fail "$python does not run"
# What the venv was built from: a change to any of these rebuilds it from scratch.
stamp="$(
  {
    echo "$version"
    echo "$sdk"
    cat "$dir/requirements.txt"
  } | sha256sum | cut -d' ' -f1
)"

check() {
  # As the clients import them; building the SDK's request proves the aliases hold on these versions.
  (cd "$dir" && .venv/bin/python -c '
import agoraapi_aliases
from agora.client import Client, Environment, RetryConfig
from agoraapi.common.v4 import model_pb2
from agoraapi.transaction.v4 import transaction_service_pb2 as tx_pb, transaction_service_pb2_grpc
assert callable(Client.get_transaction) and transaction_service_pb2_grpc.TransactionStub
tx_pb.GetTransactionRequest(transaction_id=model_pb2.TransactionId(value=bytes(64)))
')
}

# Two test runs (or a developer and a test) may get here at once.
exec 9>"$dir/.venv.lock"
flock 9

if [ -f "$venv/.tidemark-stamp" ] && [ "$(cat "$venv/.tidemark-stamp")" = "$stamp" ] && check 2>/dev/null; then
  exit 0
fi

started=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv" ||
  fail "\`$python -m venv\` failed (Debian: apt-get install python3-venv)"
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input)
# --no-warn-conflicts: pip would list every SDK pin these versions replace, on each build.
"${pip[@]}" install --no-deps --no-warn-conflicts -r "$dir/requirements.txt" "$sdk" ||
  fail "pip install failed (see above; crc16 and ed25519 compile: they need gcc and Python's headers)"
check || fail "the venv was built but the SDK or agora-api's stubs do not import (see above)"
echo "$stamp" >"$venv/.tidemark-stamp"
echo "python-clients: built $venv ($sdk, $(grep -c '==' "$dir/requirements.txt") pinned packages) in $((SECONDS - started))s"
