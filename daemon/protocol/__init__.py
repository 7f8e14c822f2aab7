"""The wire protocol: message models, frame layout, blob reassembly, schema. No I/O, no torch."""

from .blobs import Accepted, BlobAssembler
from .codec import (
    dump,
    encode_binary,
    encode_text,
    parse_client_binary,
    parse_client_data,
    parse_client_text,
    parse_server_binary,
    parse_server_text,
)
from .frames import decode_frame, encode_frame
from .limits import LIMITS, WireLimits
from .messages import *  # noqa: F403
from .messages import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS, JobParams
from .schema import protocol_schema, schema_text

__all__ = [
    "LIMITS",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOLS",
    "Accepted",
    "BlobAssembler",
    "JobParams",
    "WireLimits",
    "decode_frame",
    "dump",
    "encode_binary",
    "encode_frame",
    "encode_text",
    "parse_client_binary",
    "parse_client_data",
    "parse_client_text",
    "parse_server_binary",
    "parse_server_text",
    "protocol_schema",
    "schema_text",
]
