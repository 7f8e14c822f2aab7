"""Blobs: which ones the caller must upload, uploads chunk by chunk, downloads. A client sees
only the blobs it uploaded or its jobs made (storage still keeps one copy per hash): asking for
another's is `unknown_blob`, and `blob.has` reports it missing, so nothing tells a client what
exists on the daemon. Uploading bytes already stored proves the client holds them."""

from __future__ import annotations

import asyncio
import logging
import queue

from .. import image_io
from ..errors import InvalidInput, LayerbridgeError
from ..protocol.blobs import HEAD_BYTES, blob_frames
from ..protocol.connection import ChunkReceived, State
from ..protocol.messages import (
    BlobGet,
    BlobHas,
    BlobMissing,
    BlobPut,
    BlobReceived,
    BlobSent,
    BlobStored,
    Message,
)
from ..protocol.vocab import ImageFormat
from .base import Caller, Handler, owner

log = logging.getLogger("layerbridge.session")


async def has(caller: Caller, message: BlobHas) -> Message:
    return BlobMissing(sha256=await caller.core.manager.missing(message.sha256, owner(caller)))


async def get(caller: Caller, message: BlobGet) -> Message:
    meta = await caller.core.manager.blob_meta(message.sha256, owner(caller))
    _, data = await asyncio.to_thread(caller.core.blobs.read, message.sha256)
    for header, chunk in blob_frames(meta.sha256, data, meta.format, meta.width, meta.height,
                                     reply_to=message.id):
        caller.deliver(header, chunk)
    return BlobSent(sha256=meta.sha256, size=len(data))


# bytes of one upload hashed and written behind the frames already read: beyond this, the
# connection reads no further frame until its writer catches up (so a client faster than the
# disk holds at most this much of the daemon's memory per upload)
WRITE_BEHIND = 8 << 20


class UploadStream:
    """One upload's chunks, hashed and written in order on a worker thread while the event loop
    reads the next frames: the loop waits only when WRITE_BEHIND bytes are behind, and at the
    last chunk. The worker takes chunks while there are some and then ends (an upload left
    unfinished holds no thread). A chunk that fails drops the upload and answers the client
    itself (the error names the upload's id); the chunks after it are skipped."""

    def __init__(self, caller: Caller, key: str) -> None:
        self.caller, self.key = caller, key
        self.behind = 0  # bytes queued, not yet stored
        self.failed = False
        self.name: str | None = None  # the sha256 of the bytes, once the last chunk is stored
        self._queue: queue.SimpleQueue[ChunkReceived] = queue.SimpleQueue()
        self._working = False
        self._progress = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._last: BlobPut | None = None  # the latest chunk's header, to answer if all breaks

    def push(self, event: ChunkReceived) -> None:
        self._last = event.put
        self._queue.put(event)
        self.behind += len(event.payload)
        if not self._working:
            self._start()

    async def catch_up(self, limit: int = 0) -> None:
        """Wait until at most `limit` bytes are behind (0: every chunk so far is stored)."""
        while self.behind > limit and not self.failed:
            self._progress.clear()
            await self._progress.wait()

    def _start(self) -> None:
        self._working = True
        asyncio.ensure_future(asyncio.to_thread(self._work)).add_done_callback(self._worked)

    def _worked(self, work: asyncio.Future[None]) -> None:
        self._working = False
        if not work.cancelled() and (exc := work.exception()) is not None:
            # the worker itself broke (not a chunk it stored): end the upload rather than wait
            self.failed = True
            self._refused(self._last, exc)
        elif not self._queue.empty() and not self.failed:
            self._start()  # a chunk came as the worker found none

    def _work(self) -> None:  # on the worker thread
        while not self.failed:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                event.accepted.hash(event.payload)
                name = event.accepted.verify() if event.accepted.complete else None
                self.caller.core.uploads.write(self.caller, self.key, event.payload)
            except Exception as exc:
                self.failed = True
                self._loop.call_soon_threadsafe(self._refused, event.put, exc)
                return
            self._loop.call_soon_threadsafe(self._stored, event, name)

    def _stored(self, event: ChunkReceived, name: str | None) -> None:
        self.behind -= len(event.payload)
        self.name = name or self.name
        put = event.put
        if put.ack and not event.accepted.complete:  # the client may send this many more bytes
            self.caller.deliver(BlobReceived(sha256=put.sha256, received=put.offset + len(event.payload),
                                             reply_to=put.id))
        self._progress.set()

    def _refused(self, put: BlobPut | None, exc: BaseException) -> None:
        if put is None:
            return
        _drop(self.caller, put)
        if isinstance(exc, LayerbridgeError):
            log.debug("refused an upload chunk from %s: %s", self.caller.peer, exc.message)
        else:
            log.error("error storing an upload chunk from %s", self.caller.peer, exc_info=exc)
        self.caller.deliver(self.caller.protocol.error(exc, put.id))
        self._progress.set()


async def receive_chunk(caller: Caller, event: ChunkReceived) -> None:
    """Store one accepted upload chunk (behind the loop: see UploadStream); on the last, check
    the blob and answer `blob.stored` with its name. Raises (after dropping the upload) when the
    chunk or the blob is refused."""
    put, payload, accepted = event.put, event.payload, event.accepted
    uploads, streams, key = caller.core.uploads, caller.upload_streams, put.upload_key
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
            streams[key] = UploadStream(caller, key)
        stream = streams[key]
    except Exception:
        _drop(caller, put)
        raise
    stream.push(event)
    await stream.catch_up(0 if accepted.complete else WRITE_BEHIND)
    if not accepted.complete or stream.failed:
        return
    streams.pop(key, None)
    if caller.protocol.state is State.CLOSED:
        uploads.abort(caller, key)  # closed meanwhile: close() could not see it yet
        return
    assert stream.name is not None  # the last chunk is stored
    try:
        header = accepted.header
        if header.format == "png":
            width, height = image_io.png_size(accepted.head, "blob")
        else:
            assert header.width is not None and header.height is not None  # BlobPut checks
            width, height = header.width, header.height
        image_io.check_size("blob", width, height)
        meta = await asyncio.to_thread(uploads.commit, caller, key, stream.name, header.format,
                                       width, height)
        await caller.core.manager.own_blob(meta.sha256, caller.client.name, header.format,
                                           width, height)
    except Exception:
        _drop(caller, put)
        raise
    caller.deliver(BlobStored(sha256=meta.sha256, size=meta.size, reply_to=put.id))


def _drop(caller: Caller, put: BlobPut) -> None:
    key = put.upload_key
    caller.protocol.uploads.forget(key)
    caller.upload_streams.pop(key, None)
    caller.core.uploads.abort(caller, key)


HANDLERS: dict[type, Handler] = {
    BlobHas: has,
    BlobGet: get,
}
