"""Blobs: which ones the caller must upload, uploads chunk by chunk, downloads. A client sees
only the blobs it uploaded or its jobs made (storage still keeps one copy per hash): asking for
another's is `unknown_blob`, and `blob.has` reports it missing, so nothing tells a client what
exists on the daemon. Uploading bytes already stored proves the client holds them."""

from __future__ import annotations

import asyncio

from .. import image_io
from ..errors import InvalidInput
from ..protocol.blobs import HEAD_BYTES, blob_frames
from ..protocol.connection import ChunkReceived, State
from ..protocol.messages import (
    BlobGet,
    BlobHas,
    BlobMissing,
    BlobReceived,
    BlobSent,
    BlobStored,
    Message,
)
from ..protocol.vocab import ImageFormat
from .base import Caller, Handler, owner


async def has(caller: Caller, message: BlobHas) -> Message:
    return BlobMissing(sha256=await caller.core.manager.missing(message.sha256, owner(caller)))


async def get(caller: Caller, message: BlobGet) -> Message:
    meta = await caller.core.manager.blob_meta(message.sha256, owner(caller))
    _, data = await asyncio.to_thread(caller.core.blobs.read, message.sha256)
    for header, chunk in blob_frames(meta.sha256, data, meta.format, meta.width, meta.height,
                                     reply_to=message.id):
        caller.deliver(header, chunk)
    return BlobSent(sha256=meta.sha256, size=len(data))


async def receive_chunk(caller: Caller, event: ChunkReceived) -> None:
    """Store one accepted upload chunk; on the last, check the blob and answer `blob.stored`.
    Raises (after dropping the upload) when the chunk or the blob is refused."""
    put, payload, accepted = event.put, event.payload, event.accepted
    uploads = caller.core.uploads
    try:
        if accepted.first:
            if put.format != "png":
                assert put.width is not None and put.height is not None  # BlobPut checks
                image_io.check_size("blob", put.width, put.height)
                expected = put.width * put.height * (ImageFormat(put.format).channels or 1)
                if put.total != expected:
                    raise InvalidInput("total", put.total, f"{put.format} {put.width}x"
                                       f"{put.height} is {expected} bytes")
            elif len(payload) >= HEAD_BYTES:  # refuse a bomb at its first chunk, not its last
                # (a first chunk too short to hold the header is checked when the blob completes)
                image_io.check_size("blob", *image_io.png_size(bytes(payload[:HEAD_BYTES]), "blob"))
            uploads.begin(caller, put)
        # hashed and written off the loop, while the next frame arrives
        await asyncio.to_thread(_hash_and_write, caller, event)
        if caller.protocol.state is State.CLOSED:
            uploads.abort(caller, put.sha256)  # closed meanwhile: close() could not see it yet
            return
        if not accepted.complete:
            if put.ack:  # stored: the client may send this many more bytes
                caller.deliver(BlobReceived(sha256=put.sha256, received=put.offset + len(payload),
                                            reply_to=put.id))
            return
        header = accepted.header
        if header.format == "png":
            width, height = image_io.png_size(accepted.head, "blob")
        else:
            assert header.width is not None and header.height is not None  # BlobPut checks
            width, height = header.width, header.height
        image_io.check_size("blob", width, height)
        meta = await asyncio.to_thread(uploads.commit, caller, put.sha256, header.format,
                                       width, height)
        await caller.core.manager.own_blob(put.sha256, caller.client.name, header.format,
                                           width, height)
    except Exception:
        caller.protocol.uploads.forget(put.sha256)
        uploads.abort(caller, put.sha256)
        raise
    caller.deliver(BlobStored(sha256=meta.sha256, size=meta.size, reply_to=put.id))


def _hash_and_write(caller: Caller, event: ChunkReceived) -> None:
    event.accepted.hash(event.payload)
    if event.accepted.complete:
        event.accepted.verify()
    caller.core.uploads.write(caller, event.put.sha256, event.payload)


HANDLERS: dict[type, Handler] = {
    BlobHas: has,
    BlobGet: get,
}
