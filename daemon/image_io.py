"""Wire images: decoding and encoding of blobs within the protocol's bounds (Pillow only; no torch).

Dimensions are checked from the header before any pixel is decoded, so a tiny PNG that claims
60000×60000 pixels (a decompression bomb) is refused without allocating it.
"""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image

from .errors import InvalidInput
from .jobs.blobstore import BlobMeta
from .protocol.limits import LIMITS
from .protocol.messages import Canvas
from .protocol.vocab import ImageFormat


def check_size(field: str, width: int, height: int) -> None:
    if width > LIMITS.max_side or height > LIMITS.max_side or width * height > LIMITS.max_image_pixels:
        raise InvalidInput(
            field, f"{width}x{height}",
            f"image exceeds {LIMITS.max_side} px per side or {LIMITS.max_image_pixels} pixels",
        )


def check_canvas(canvas: Canvas, width: int, height: int) -> None:
    """InvalidInput naming the field unless an image of this size at the canvas's (x, y) lies
    on the canvas (the origin itself is checked by the protocol)."""
    if canvas.x + width > canvas.width:
        raise InvalidInput("canvas.x", canvas.x, f"the image, {width} px wide, placed at x="
                           f"{canvas.x} reaches past the canvas width {canvas.width}")
    if canvas.y + height > canvas.height:
        raise InvalidInput("canvas.y", canvas.y, f"the image, {height} px high, placed at y="
                           f"{canvas.y} reaches past the canvas height {canvas.height}")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes, field: str) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, without decoding (or trusting) anything else."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise InvalidInput(field, f"{len(data)} bytes", "not a PNG (send PNG, rgba8 or grey8)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise InvalidInput(field, f"{width}x{height}", "PNG has an empty size")
    return width, height


def decode(meta: BlobMeta, data: bytes, field: str) -> Image.Image:
    """A blob as a PIL image (RGBA, RGB or L), or InvalidInput naming the field."""
    if meta.format in ("rgba8", "grey8"):
        channels = 4 if meta.format == "rgba8" else 1
        assert meta.width is not None and meta.height is not None
        check_size(field, meta.width, meta.height)
        expected = meta.width * meta.height * channels
        if len(data) != expected:
            raise InvalidInput(field, meta.sha256,
                               f"{meta.format} {meta.width}x{meta.height} needs {expected} bytes, got {len(data)}")
        raw = Image.frombuffer("RGBA" if channels == 4 else "L", (meta.width, meta.height), data,
                               "raw", "RGBA" if channels == 4 else "L", 0, 1)
        return mask_grey(raw) if field == "mask" else raw
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=["PNG"])
            check_size(field, *image.size)
            image.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(field, meta.sha256, "image is a decompression bomb") from None
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise InvalidInput(field, meta.sha256, f"not a readable PNG ({exc})") from None
    image = to_8bit(image)
    return mask_grey(image) if field == "mask" else image


def to_8bit(image: Image.Image) -> Image.Image:
    """RGBA, RGB or L. 16-bit grey is scaled (a plain convert clips everything above 255 to
    white) and a palette's transparency becomes alpha."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.convert("I").point(lambda v: v / 257).convert("L")
    if image.mode in ("RGBA", "RGB", "L"):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def mask_grey(image: Image.Image) -> Image.Image:
    """A mask as L, 255 = repaint: grey times alpha, so a transparent pixel is never repainted
    whatever colour it holds (a selection painted on a transparent layer)."""
    image = to_8bit(image)
    if image.mode == "L":
        return image
    if image.mode == "RGBA":
        grey = image.convert("L")
        black = Image.new("L", image.size, 0)
        return Image.composite(grey, black, image.getchannel("A"))
    return image.convert("L")


def encode(image: Image.Image, format: ImageFormat) -> bytes:
    """A result's bytes in `format`: PNG, or raw rgba8 (no encoding at all, only a copy)."""
    if format is ImageFormat.RGBA8:
        return (image if image.mode == "RGBA" else image.convert("RGBA")).tobytes()
    if format is ImageFormat.PNG:
        return encode_png(image)
    raise ValueError(f"results are png or rgba8, not {format}")


def encode_png(image: Image.Image, compress_level: int = 1) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()
