"""Makes each agora-api module one module under both of its names; import this before the SDK.

agora-api 0.26's generated modules import one another by short names (`common.v4.model_pb2`, found
through the folder `agoraapi/__init__.py` puts on sys.path), while the Kin SDK imports the same files
as `agoraapi.common.v4.model_pb2`. So each file loads twice, as two sets of message classes. The
C++ protobuf runtime the SDK was released with accepted a message of either set; the pure-Python
runtime, the only one protobuf 3.x has for Python 3.11, refuses it ("expected TransactionId got
TransactionId") on the SDK's first request. Registering the short-named modules under the long
names too leaves one set.
"""

import importlib
import os
import sys

import agoraapi

_root = os.path.dirname(agoraapi.__file__)

for _folder, _dirs, _files in os.walk(_root):
    _dirs.sort()
    for _file in sorted(_files):
        if not _file.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        _short = os.path.relpath(os.path.join(_folder, _file[:-3]), _root).replace(os.sep, ".")
        _long = f"agoraapi.{_short}"
        if _long in sys.modules and sys.modules[_long] is not sys.modules.get(_short):
            raise ImportError(f"import agoraapi_aliases before {_long}: it is already loaded as a second copy")
        _module = importlib.import_module(_short)
        sys.modules[_long] = _module
        # `from agoraapi.common.v4 import model_pb2` reads the attribute of the real package.
        _package, _, _name = _long.rpartition(".")
        setattr(importlib.import_module(_package), _name, _module)
