"""The torch-free pixel math of inpaint/expand."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layerbridge.daemon.engine import imaging


def test_importing_imaging_does_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys, layerbridge.daemon.engine.imaging, layerbridge.daemon.engine.registry, "
        "layerbridge.daemon.engine.preprocess, layerbridge.daemon.engine.api, "
        "layerbridge.daemon.engine.detect, layerbridge.daemon.executors.local; "
        "print('torch' in sys.modules or 'diffusers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_context_box_surrounds_the_selection_with_context_and_snaps() -> None:
    box = imaging.context_box((1000, 1000, 1256, 1256), (4096, 4096), native=512, multiple=8)
    x0, y0, x1, y1 = box
    assert x0 < 1000 and y0 < 1000 and x1 > 1256 and y1 > 1256
    assert (x1 - x0) % 8 == 0 and (y1 - y0) % 8 == 0
    assert (x1 - x0) == 512  # 256 + 2 * 128 of context (half the selection's side)


def test_context_has_a_floor_for_tiny_selections() -> None:
    x0, y0, x1, y1 = imaging.context_box((500, 500, 504, 504), (4096, 4096), native=512, multiple=8)
    assert x1 - x0 >= 256 and y1 - y0 >= 256  # half the native side at least


def test_context_box_is_the_same_on_any_canvas_large_enough() -> None:
    small = imaging.context_box((128, 128, 384, 384), (512, 512), native=512, multiple=8)
    big = imaging.context_box((128, 128, 384, 384), (4096, 4096), native=512, multiple=8)
    assert small == big == (0, 0, 512, 512)


@settings(max_examples=60, deadline=None)
@given(
    cw=st.integers(16, 3000),
    ch=st.integers(16, 3000),
    data=st.data(),
    multiple=st.sampled_from([8, 16]),
    native=st.sampled_from([128, 512, 1024]),
)
def test_context_box_always_covers_the_selection_inside_the_canvas(
    cw, ch, data, multiple, native
) -> None:
    x0 = data.draw(st.integers(0, cw - 1))
    y0 = data.draw(st.integers(0, ch - 1))
    x1 = data.draw(st.integers(x0 + 1, cw))
    y1 = data.draw(st.integers(y0 + 1, ch))
    bx0, by0, bx1, by1 = imaging.context_box(
        (x0, y0, x1, y1), (cw, ch), native=native, multiple=multiple
    )
    assert 0 <= bx0 <= x0 and x1 <= bx1 <= cw
    assert 0 <= by0 <= y0 and y1 <= by1 <= ch
    pw, ph = imaging.processing_size((bx0, by0, bx1, by1), native=native, multiple=multiple)
    assert pw % multiple == 0 and ph % multiple == 0
    assert pw * ph <= native * native


def test_processing_size_keeps_aspect_within_the_native_budget() -> None:
    assert imaging.processing_size((0, 0, 2048, 2048), native=512, multiple=8) == (512, 512)
    pw, ph = imaging.processing_size((0, 0, 2000, 1000), native=1024, multiple=16)
    assert pw % 16 == 0 and ph % 16 == 0 and abs(pw / ph - 2) < 0.1 and pw * ph <= 1024 * 1024


def square_mask(size: int = 64, lo: int = 20, hi: int = 44) -> np.ndarray:
    m = np.zeros((size, size), np.float32)
    m[lo:hi, lo:hi] = 1.0
    return m


def test_denoise_mask_grows_and_feathers_and_never_shrinks() -> None:
    m = square_mask()
    d = imaging.denoise_mask(m, imaging.Feather(grow=4, feather=4, blend=2))
    assert (d >= m).all()
    assert d[20 - 4, 32] > 0.4  # grown outward
    assert 0 < d[20 - 7, 32] < 1  # feathered edge
    assert d[0, 0] == 0


def test_composite_mask_stays_inside_the_selection_and_is_soft() -> None:
    m = square_mask()
    a = imaging.composite_mask(m, imaging.Feather(grow=4, feather=4, blend=3))
    assert (a[m == 0] == 0).all()
    assert a[32, 32] == pytest.approx(1.0)
    assert 0 < a[21, 32] < 1


def test_a_thin_part_of_a_selection_is_composited_too() -> None:
    # a blob and, apart from it, a 3 px wire: the blend erosion alone would drop the wire
    m = np.zeros((300, 300), np.float32)
    m[20:140, 20:140] = 1
    m[200:203, 10:290] = 1
    f = imaging.Feather.for_bbox(imaging.mask_bbox(m))
    a = imaging.composite_mask(m, f)
    assert (a[200:203, 10:290] == 1).all()  # thinner than the blend: taken as it is
    assert a[80, 80] == pytest.approx(1.0) and 0 < a[21, 80] < 1  # the blob still fades in
    assert (a[m == 0] == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    side=st.integers(1, 48),
    level=st.integers(1, 255),
)
def test_every_non_empty_selection_gets_some_composite_alpha(seed, side, level) -> None:
    # inpaint relies on this: the patch's region is the box of the composite alpha
    rng = np.random.default_rng(seed)
    m = (rng.random((side, side)) < rng.random()).astype(np.float32) * (level / 255.0)
    m[rng.integers(side), rng.integers(side)] = level / 255.0
    f = imaging.Feather.for_bbox(imaging.mask_bbox(m))
    assert imaging.mask_bbox(imaging.composite_mask(m, f)) is not None


@pytest.mark.parametrize("mode", ["blur", "edge", "noise"])
def test_fills_change_only_the_masked_area(mode: str) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)
    m = square_mask()
    out = imaging.fill(img, m, mode, seed=3)
    assert (out[m == 0] == img[m == 0]).all()
    assert not (out[m == 1] == img[m == 1]).all()


def test_keep_fill_is_the_identity() -> None:
    img = np.full((8, 8, 3), 9, np.uint8)
    assert imaging.fill(img, np.ones((8, 8), np.float32), "keep") is img


def test_edge_fill_continues_the_surroundings() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, :32] = (200, 10, 10)
    img[:, 32:] = (10, 10, 200)
    m = square_mask()
    out = imaging.fill(img, m, "edge")
    assert out[32, 22, 0] > out[32, 22, 2]  # left of the hole stays reddish
    assert out[32, 42, 2] > out[32, 42, 0]  # right stays bluish


def test_colour_match_shifts_the_result_to_the_surroundings() -> None:
    orig = np.full((64, 64, 3), 100, np.uint8)
    result = np.full((64, 64, 3), 140, np.uint8)
    matched = imaging.match_colour(result, orig, square_mask())
    assert np.abs(matched.astype(int) - 100).max() <= 1


def test_composite_keeps_the_original_exactly_where_alpha_is_zero() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 255, (2, 32, 32, 3)).astype(np.uint8)
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 0.5
    out = imaging.composite(a, b, alpha)
    assert (out[alpha == 0] == a[alpha == 0]).all()
    assert not (out[alpha > 0] == a[alpha > 0]).all()


def test_extend_canvas_keeps_the_original_and_fills_margins() -> None:
    img = np.full((20, 30, 3), 50, np.uint8)
    big = imaging.extend_canvas(img, 5, 6, 7, 8)
    assert big.shape == (34, 42, 3)
    assert (big[6:26, 5:35] == img).all()
    assert (big == 50).all()  # a flat image extends flat


def test_seam_mask_covers_the_margins_and_fades_into_the_original() -> None:
    sel, comp = imaging.seam_mask((50, 40), (10, 0, 50, 40), seam=6)
    assert (sel[:, :10] == 1).all() and (comp[:, :10] == 1).all()
    assert sel[20, 14] == 1 and sel[20, 30] == 0
    assert 0 < comp[20, 12] < 1 and comp[20, 30] == 0
    assert (comp[:, 45:] == 0).all()  # the side without a margin does not fade


def test_extend_canvas_is_cheap_on_a_big_canvas() -> None:
    import time

    img = np.random.default_rng(0).integers(0, 255, (4096, 4096, 3)).astype(np.uint8)
    start = time.perf_counter()
    big = imaging.extend_canvas(img, 256, 0, 256, 0)
    assert time.perf_counter() - start < 3.0
    assert (big[:, 256:-256] == img).all()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), multiple=st.sampled_from([8, 16]), native=st.sampled_from([128, 512, 1024]))
def test_context_box_within_a_crop_that_holds_it_is_the_whole_canvas_box(
    data, multiple, native
) -> None:
    cw, ch = data.draw(st.integers(64, 3000)), data.draw(st.integers(64, 3000))
    x0, y0 = data.draw(st.integers(0, cw - 1)), data.draw(st.integers(0, ch - 1))
    x1, y1 = data.draw(st.integers(x0 + 1, cw)), data.draw(st.integers(y0 + 1, ch))
    whole = imaging.context_box((x0, y0, x1, y1), (cw, ch), native=native, multiple=multiple)
    # any crop of the canvas that holds that box, odd origins included
    cx0, cy0 = data.draw(st.integers(0, whole[0])), data.draw(st.integers(0, whole[1]))
    cx1, cy1 = data.draw(st.integers(whole[2], cw)), data.draw(st.integers(whole[3], ch))
    within = imaging.context_box(
        (x0, y0, x1, y1), (cw, ch), native=native, multiple=multiple, within=(cx0, cy0, cx1, cy1)
    )
    assert within == whole


def test_context_box_is_kept_to_a_crop_too_small_for_it() -> None:
    box = imaging.context_box(
        (1000, 1000, 1040, 1040), (4096, 4096), native=512, multiple=8, within=(990, 980, 1100, 1060)
    )
    assert box == (990, 980, 1100, 1060)
