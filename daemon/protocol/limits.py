"""Size bounds of the wire: frames, blobs, pixels, steps, batch. One place, reported in `welcome`."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class WireLimits:
    max_frame_bytes: int = 17 * MiB  # a 16 MiB chunk plus its header
    max_chunk_bytes: int = 16 * MiB
    max_blob_bytes: int = 512 * MiB
    max_text_bytes: int = 256 * 1024
    max_header_bytes: int = 16 * 1024
    max_side: int = 16384
    max_image_pixels: int = 16384 * 8192  # 134 Mpx: a 4096² RGBA canvas is 16.7 Mpx
    max_generate_side: int = 2048
    max_steps: int = 150
    max_batch: int = 8
    max_controls: int = 4
    max_loras: int = 8


LIMITS = WireLimits()
