"""inpaint and expand through real pipelines: patch geometry, unchanged pixels, both UNet kinds."""

from __future__ import annotations

import numpy as np
import pytest
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import Margins
from PIL import Image

from .helpers import Progress, gradient, params, pixels, run


def mask_for(
    size: tuple[int, int], box: tuple[int, int, int, int], *, soft: int = 0
) -> Image.Image:
    m = np.zeros((size[1], size[0]), np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = 255
    if soft:  # a feathered selection edge, as a client may send
        import cv2

        m = cv2.GaussianBlur(m, (2 * soft + 1, 2 * soft + 1), soft / 2)
    return Image.fromarray(m, "L")


def place(canvas: Image.Image, patch: Image.Image, region) -> np.ndarray:
    out = canvas.convert("RGBA").copy()
    out.alpha_composite(patch, (region.x, region.y))
    return np.asarray(out.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("model", ["demo", "demo-inpaint", "demo-xl", "demo-xl-inpaint"])
def test_inpaint_patch_lands_where_the_mask_was_and_nothing_else_changes(
    engine: DiffusersEngine, model: str
) -> None:
    canvas = gradient(160, 120)
    mask = mask_for(canvas.size, (50, 40, 90, 76))
    [out] = run(engine, params("inpaint", model=model), image=canvas, mask=mask)
    r = out.region
    assert out.image.mode == "RGBA" and out.image.size == (r.width, r.height)
    assert r.x >= 50 and r.y >= 40 and r.x + r.width <= 90 and r.y + r.height <= 76
    assert (r.x, r.y, r.x + r.width, r.y + r.height) == (50, 40, 90, 76)
    alpha = np.zeros((120, 160), np.uint8)
    alpha[r.y : r.y + r.height, r.x : r.x + r.width] = np.asarray(out.image)[..., 3]
    assert (alpha[np.asarray(mask) == 0] == 0).all()
    assert alpha[58, 70] == 255
    placed = place(canvas, out.image, r)
    outside = np.asarray(mask) == 0
    assert (placed[outside] == pixels(canvas)[outside]).all()
    assert (placed[58, 70] != pixels(canvas)[58, 70]).any()


def test_feathered_selection_keeps_pixels_outside_it(engine: DiffusersEngine) -> None:
    canvas = gradient(128, 128)
    mask = mask_for(canvas.size, (40, 40, 88, 88), soft=6)
    [out] = run(engine, params("inpaint", fill="edge"), image=canvas, mask=mask)
    placed = place(canvas, out.image, out.region)
    outside = np.asarray(mask) == 0
    assert (placed[outside] == pixels(canvas)[outside]).all()


def test_inpaint_on_a_big_canvas_returns_only_the_patch(engine: DiffusersEngine) -> None:
    canvas = Image.new("RGB", (2048, 1536), (90, 120, 150))
    mask = mask_for(canvas.size, (1500, 900, 1564, 964))
    progress = Progress()
    [out] = engine.run(
        params("inpaint"), 3, {"image": canvas, "mask": mask}, progress, lambda: False
    )
    assert (out.region.x, out.region.y, out.region.width, out.region.height) == (1500, 900, 64, 64)
    assert out.image.size == (64, 64)
    assert progress.events[-1].preview is not None


@pytest.mark.parametrize("fill", ["keep", "blur", "edge", "noise"])
def test_fill_modes_change_what_strength_below_one_starts_from(
    engine: DiffusersEngine, fill: str
) -> None:
    canvas = gradient(96, 96)
    mask = mask_for(canvas.size, (30, 30, 66, 66))
    [out] = run(engine, params("inpaint", fill=fill, strength=0.5), image=canvas, mask=mask)
    assert out.image.size == (36, 36)


def test_fill_modes_give_different_results(engine: DiffusersEngine) -> None:
    canvas = gradient(96, 96)
    mask = mask_for(canvas.size, (30, 30, 66, 66))
    results = {
        fill: run(engine, params("inpaint", fill=fill, strength=0.6), image=canvas, mask=mask)[
            0
        ].image.tobytes()
        for fill in ("keep", "blur", "noise")
    }
    assert len(set(results.values())) == 3


def test_inpaint_is_reproducible_and_batches(engine: DiffusersEngine) -> None:
    canvas = gradient(96, 96)
    mask = mask_for(canvas.size, (30, 30, 66, 66))
    a = run(engine, params("inpaint", batch=2), seed=5, image=canvas, mask=mask)
    b = run(engine, params("inpaint"), seed=5, image=canvas, mask=mask)
    assert [x.seed for x in a] == [5, 6]
    assert a[0].region == a[1].region == b[0].region
    assert np.abs(pixels(a[0].image) - pixels(b[0].image)).max() <= 2


def test_an_empty_mask_is_refused(engine: DiffusersEngine) -> None:
    canvas = gradient(64, 64)
    with pytest.raises(InvalidInput) as err:
        run(engine, params("inpaint"), image=canvas, mask=Image.new("L", (64, 64), 0))
    assert err.value.field == "mask"


def test_a_mask_of_another_size_is_refused(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        run(engine, params("inpaint"), image=gradient(64, 64), mask=Image.new("L", (32, 64), 255))
    assert err.value.field == "mask"


@pytest.mark.parametrize("model", ["demo", "demo-inpaint", "demo-xl", "demo-xl-inpaint"])
def test_expand_returns_the_enlarged_image_and_its_origin(
    engine: DiffusersEngine, model: str
) -> None:
    src = gradient(96, 80)
    m = Margins(left=16, top=8, right=0, bottom=24)
    [out] = run(engine, params("expand", model=model, margins=m), image=src)
    r = out.region
    assert (r.x, r.y, r.width, r.height) == (-16, -8, 96 + 16, 80 + 8 + 24)
    assert out.image.size == (r.width, r.height)
    big = np.asarray(out.image.convert("RGB"), dtype=np.int16)
    inner = big[8 : 8 + 80, 16 : 16 + 96]
    seam = 10  # min(96, 80) // 8: the original is kept exactly beyond the seam
    assert (inner[seam : -seam - 1, seam:] == pixels(src)[seam : -seam - 1, seam:]).all()
    assert np.asarray(out.image)[..., 3].min() == 255


def test_expand_at_strength_zero_is_the_pre_fill(engine: DiffusersEngine) -> None:
    src = Image.new("RGB", (64, 64), (10, 200, 30))
    [out] = run(engine, params("expand", margins=Margins(right=32), strength=0.0), image=src)
    assert (np.asarray(out.image.convert("RGB")) == (10, 200, 30)).all()


@pytest.mark.parametrize(
    "margins", [Margins(left=16384), Margins(top=8200, bottom=8200), Margins(right=16330)]
)
def test_margins_that_make_the_canvas_too_large_are_refused_by_name(
    engine: DiffusersEngine, margins: Margins
) -> None:
    with pytest.raises(InvalidInput) as err:
        run(engine, params("expand", margins=margins), image=gradient(64, 64))
    assert err.value.field == "margins"
    assert "16384" in str(err.value)  # the bound is named, so the designer knows what fits


def test_inpaint_of_a_crop_with_its_canvas_equals_inpaint_of_the_whole_canvas(
    engine: DiffusersEngine,
) -> None:
    canvas = gradient(400, 300, seed=3)
    # an odd-sized selection and an odd crop origin: the context box is found on the canvas,
    # not in the crop (in the crop a half-pixel centre would round the other way)
    sel = (201, 151, 242, 190)
    [whole] = run(engine, params("inpaint"), seed=9, image=canvas, mask=mask_for(canvas.size, sel))
    ox, oy = 101, 81
    crop_box = (ox, oy, 361, 281)
    crop = canvas.crop(crop_box)
    crop_sel = (sel[0] - ox, sel[1] - oy, sel[2] - ox, sel[3] - oy)
    on_canvas = params("inpaint", canvas={"width": 400, "height": 300, "x": ox, "y": oy})
    [part] = run(engine, on_canvas, seed=9, image=crop, mask=mask_for(crop.size, crop_sel))
    r = part.region
    assert (r.x + ox, r.y + oy, r.width, r.height) == (
        whole.region.x, whole.region.y, whole.region.width, whole.region.height)
    assert np.array_equal(np.asarray(part.image), np.asarray(whole.image))


def test_inpaint_of_a_tight_crop_still_lands_on_the_selection(engine: DiffusersEngine) -> None:
    canvas = gradient(400, 300, seed=3)
    crop = canvas.crop((190, 140, 260, 200))  # less context than the model would take
    mask = mask_for(crop.size, (11, 11, 52, 50))
    p = params("inpaint", canvas={"width": 400, "height": 300, "x": 190, "y": 140})
    [out] = run(engine, p, image=crop, mask=mask)
    r = out.region
    assert (r.x, r.y, r.x + r.width, r.y + r.height) == (11, 11, 52, 50)
