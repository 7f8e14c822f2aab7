"""JSON Schema of every message, committed at plugins/common/protocol.schema.json."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from .messages import PROTOCOL_VERSION, BlobPut, ClientMessage, ServerMessage
from .vocab import ErrorCode, retryable_codes


def protocol_schema() -> dict[str, Any]:
    client = TypeAdapter(ClientMessage).json_schema(ref_template="#/$defs/{model}")
    server = TypeAdapter(ServerMessage).json_schema(ref_template="#/$defs/{model}")
    put = BlobPut.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = {}
    for part in (client, server, put):
        defs.update(part.pop("$defs", {}))
    defs["BlobPut"] = put
    # error codes travel as plain strings (an older client must accept a newer code); the list,
    # and which may be retried unchanged, is published here so no client keeps its own copy
    defs["ErrorCode"] = {
        "title": "ErrorCode", "type": "string", "enum": [c.value for c in ErrorCode],
        "description": "every code an error or job.failed can carry",
        "x-retryable": retryable_codes(),
    }
    defs["ClientMessage"] = client
    defs["ServerMessage"] = server
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "LayerbridgeProtocol",
        "description": f"Layerbridge protocol v{PROTOCOL_VERSION}: every message between clients and the daemon.",
        "x-protocol-version": PROTOCOL_VERSION,
        "type": "object",
        "properties": {
            "client": {"$ref": "#/$defs/ClientMessage"},
            "server": {"$ref": "#/$defs/ServerMessage"},
            "blobPut": {"$ref": "#/$defs/BlobPut"},
        },
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(protocol_schema(), indent=2, sort_keys=True) + "\n"
