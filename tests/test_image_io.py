"""Wire images decode to what the pixels say: 16-bit grey scaled, palette transparency kept, masks
read the same whatever their mode."""

from __future__ import annotations

import io

import numpy as np
from layerbridge.daemon import image_io
from layerbridge.daemon.jobs.blobstore import BlobMeta
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def meta(data: bytes) -> BlobMeta:
    return BlobMeta(sha256="0" * 64, size=len(data), format="png", width=None, height=None)


def test_16_bit_grey_png_is_scaled_to_8_bits_not_clipped() -> None:
    data = png_bytes(Image.fromarray(np.array([[0, 257 * 64, 32896, 65535]], dtype=np.uint16)))
    image = image_io.decode(meta(data), data, "image")
    assert np.asarray(image.convert("L")).tolist() == [[0, 64, 128, 255]]


def test_palette_png_with_transparency_keeps_its_alpha() -> None:
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 255, 0, 255))
    data = png_bytes(rgba.quantize())
    image = image_io.decode(meta(data), data, "image")
    assert image.mode == "RGBA"
    assert [image.getpixel((x, 0))[3] for x in (0, 1)] == [0, 255]  # type: ignore[index]


def test_a_mask_with_alpha_repaints_only_where_it_is_opaque_and_white() -> None:
    mask = Image.new("RGBA", (3, 1), (255, 255, 255, 0))  # transparent white: not selected
    mask.putpixel((1, 0), (255, 255, 255, 255))
    mask.putpixel((2, 0), (0, 0, 0, 255))
    for mode in ("RGBA", "LA"):
        data = png_bytes(mask.convert(mode))
        grey = image_io.decode(meta(data), data, "mask")
        assert grey.mode == "L"
        assert np.asarray(grey).tolist() == [[0, 255, 0]], mode


def test_a_grey_mask_is_unchanged() -> None:
    data = png_bytes(Image.fromarray(np.array([[0, 100, 255]], dtype=np.uint8)))
    assert np.asarray(image_io.decode(meta(data), data, "mask")).tolist() == [[0, 100, 255]]
