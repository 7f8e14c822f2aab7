"""The wire protocol: message models, vocabulary, frame layout, blob reassembly, the sans-I/O
connection core, schema. No I/O, no torch.

Names are re-exported lazily: `errors` imports `protocol.vocab`, and the codec imports `errors`,
so importing this package must not pull the codec in before `errors` has finished loading.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "Accepted": "blobs", "BlobAssembler": "blobs",
    "dump": "codec", "encode_binary": "codec", "encode_text": "codec",
    "parse_client_binary": "codec", "parse_client_data": "codec", "parse_client_text": "codec",
    "parse_server_binary": "codec", "parse_server_text": "codec",
    "decode_frame": "frames", "encode_frame": "frames",
    "LIMITS": "limits", "WireLimits": "limits", "ServerLimits": "limits",
    "protocol_schema": "schema", "schema_text": "schema",
}

__all__ = [*_HOME, "PROTOCOL_VERSION", "SUPPORTED_PROTOCOLS", "JobParams"]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name, "messages")
    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
