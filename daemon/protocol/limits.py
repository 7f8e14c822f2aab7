"""Size bounds of the wire: frames, blobs, pixels, steps, batch. One place, reported in `welcome`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

MiB = 1024 * 1024


@dataclass(frozen=True)
class WireLimits:
    max_frame_bytes: int = 17 * MiB  # a 16 MiB chunk plus its header
    max_chunk_bytes: int = 16 * MiB
    max_blob_bytes: int = 512 * MiB
    max_text_bytes: int = 256 * 1024
    max_header_bytes: int = 16 * 1024
    max_side: int = 16384
    max_canvas_side: int = 300_000  # a document a job's image is cut from (Photoshop's PSB limit)
    max_image_pixels: int = 16384 * 8192  # 134 Mpx: a 4096² RGBA canvas is 16.7 Mpx
    max_generate_side: int = 2048
    max_steps: int = 150
    max_batch: int = 8
    max_controls: int = 4
    max_loras: int = 8


LIMITS = WireLimits()


KiB = 1024


class ServerLimits(BaseModel):
    """Limits that keep one client (or a page without a token) from starving the others. In the
    settings (`server.limits`) and reported in `welcome.limits`; each is refused with a typed
    error (`too_large`, `busy`, `rate_limited`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pre_hello_frame_bytes: int = Field(
        default=32 * KiB, ge=1024, le=LIMITS.max_text_bytes,
        description="largest frame read before hello (a hello is well under 1 KiB)")
    max_unauthenticated: int = Field(
        default=64, ge=1, description="connections that have not said hello; the oldest is dropped")
    max_connections: int = Field(default=256, ge=1, description="connections in all")
    max_uploads_per_connection: int = Field(default=16, ge=1, description="unfinished uploads")
    max_upload_bytes_per_connection: int = Field(
        default=LIMITS.max_blob_bytes, ge=MiB, description="bytes announced by unfinished uploads")
    max_uploads_total: int = Field(default=256, ge=1, description="unfinished uploads, all clients")
    max_upload_bytes_total: int = Field(
        default=4 * LIMITS.max_blob_bytes, ge=MiB,
        description="bytes announced by unfinished uploads, all clients")
    send_queue_bytes: int = Field(
        default=64 * MiB, ge=MiB, description="bytes queued for a client that does not read")
    max_queued_interactive: int = Field(default=32, ge=1, description="per client")
    max_queued_batch: int = Field(default=1000, ge=1, description="per client")
    auth_failures: int = Field(default=10, ge=1, description="refused tokens per peer and Origin "
                               "within auth_window_s before its guesses are locked out")
    auth_window_s: float = Field(default=60.0, gt=0)
