"""A folder of training images read and checked on the client's side (`client train`, the tray's
Train tab): each image decoded to the end and kept as the PNG the daemon stores, its caption from
a sidecar file or the template. Pillow only; never torch.

Errors name the folder as `images` and a caption file as `caption-ext`, with the file's path.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import InvalidInput
from .protocol.training import TRAIN_LIMITS

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class FolderImage:
    """One training image: its file, the PNG to upload (jpg/webp converted, since blobs are
    PNG), and its caption as written (`{trigger}` not yet replaced)."""

    path: Path
    png: bytes
    caption: str
    caption_file: Path | None  # None: the caption is the template

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


def caption_suffix(caption_ext: str) -> str:
    """`.txt` from `txt` or `.txt`; an image extension is refused (it would caption images)."""
    ext = caption_ext if caption_ext.startswith(".") else f".{caption_ext}"
    if ext.lower() in IMAGE_EXTS:
        raise InvalidInput("caption-ext", caption_ext, "that is an image extension")
    if ext == ".":
        raise InvalidInput("caption-ext", caption_ext, "empty: say which, e.g. .txt")
    return ext


def image_files(folder: Path) -> list[Path]:
    """The folder's images, by name; refuses a missing folder, an empty one or too many."""
    if not folder.is_dir():
        raise InvalidInput("images", str(folder), "not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise InvalidInput("images", str(folder), f"no images in it ({', '.join(IMAGE_EXTS)})")
    limit = TRAIN_LIMITS["max_images"]
    if len(files) > limit:  # before decoding a thousand files
        raise InvalidInput("images", str(folder), f"{len(files)} images: at most {limit}")
    return files


def read_folder(folder: Path, caption_ext: str = ".txt", template: str = "{trigger}") -> list[FolderImage]:
    """Every image of `folder` with its caption (`IMAGE-STEM + caption_ext` beside it, else
    `template`). Raises InvalidInput naming the file: one that cannot be decoded, a caption file
    that matches no image, a caption that is not UTF-8, the same image twice."""
    ext = caption_suffix(caption_ext)
    files = image_files(folder)
    stems = {p.stem for p in files}
    for caption in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ext):
        if caption.stem not in stems:
            raise InvalidInput("caption-ext", str(caption), "this caption file matches no image")
    seen: dict[bytes, Path] = {}
    found = []
    for path in files:
        png = png_of(path)
        if (twin := seen.setdefault(png, path)) is not path:
            raise InvalidInput("images", str(path), f"the same image as {twin.name}")
        side = path.with_suffix(ext)
        text = _caption(side)
        found.append(FolderImage(path, png, template if text is None else text,
                                 None if text is None else side))
    return found


def png_of(path: Path) -> bytes:
    """The image as the PNG the daemon stores; a file Pillow cannot decode to the end is named."""
    try:
        with Image.open(path) as image:
            image.load()  # a truncated file fails here, not at verify()
            if image.format == "PNG":
                return path.read_bytes()
            rgb = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput("images", str(path), f"cannot read it as an image ({exc})") from None
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue()


def _caption(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("caption-ext", str(path), f"cannot read it as UTF-8 text ({exc})") from None
