"""The numeral function: MNIST's normalisation for any digit, and a blank is never a guess."""

import cv2 as cv
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from device.numeral import _darkness, find_ink, ink_bounds, mass_centre, normalise, to_numeral


def _drawn_digit(height=80, width=99, thickness=9, offset=(0, 0)):
    """A '7' drawn like the GUI does: black round-pen strokes on white."""
    page = np.full((99, width), 255, np.uint8)
    top, left = 10 + offset[0], 20 + offset[1]
    bar = int(0.55 * height)
    cv.line(page, (left, top), (left + bar, top), 0, thickness)
    cv.line(page, (left + bar, top), (left + bar // 3, top + height - 20), 0, thickness)
    return page


def _ink_box(numeral):
    rows, cols = np.nonzero(numeral > 0.3)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("shape", [(123, 520), (150, 201), (60, 90)])
def test_darkness_on_white_paper_is_255_minus_the_grey_level(shape):
    rng = np.random.default_rng(sum(shape))
    gray = np.full(shape, 255, np.uint8)
    for _ in range(8):
        start, end = rng.integers(0, shape[::-1], size=(2, 2))
        cv.line(gray, start.tolist(), end.tolist(), int(rng.integers(0, 200)), int(rng.integers(1, 6)))
    gray[-2:, 10:40] = 30  # ink in the last rows, which a quarter-size paper estimate leaves out
    # Paper that is white (255) throughout: (paper - gray) / paper * 255 is 255 - gray, to the unit.
    assert np.array_equal(_darkness(gray), 255 - gray.astype(np.int16))


def test_longest_side_is_20_and_centre_of_mass_is_the_middle():
    numeral = to_numeral(_drawn_digit())
    assert numeral.shape == (28, 28) and numeral.dtype == np.float32
    assert max(_ink_box(numeral)) in (19, 20, 21)
    moments = cv.moments(numeral)
    assert abs(moments["m10"] / moments["m00"] - 13.5) <= 1.0
    assert abs(moments["m01"] / moments["m00"] - 13.5) <= 1.0


def test_ink_is_high_and_paper_is_zero():
    numeral = to_numeral(_drawn_digit())
    assert numeral.max() == 1.0 and numeral[0, 0] == 0.0 and numeral[27, 27] == 0.0


def test_size_and_position_in_the_box_do_not_matter():
    small, large = to_numeral(_drawn_digit(height=50, thickness=5)), to_numeral(_drawn_digit(height=85, thickness=9))
    moved = to_numeral(_drawn_digit(height=85, thickness=9, offset=(3, 30)))
    assert np.abs(large - moved).mean() < 0.02
    assert np.corrcoef(small.ravel(), large.ravel())[0, 1] > 0.8


def test_uneven_light_and_grey_paper_give_the_same_numeral():
    clean = _drawn_digit().astype(np.float32)
    shade = np.linspace(120, 230, 99, dtype=np.float32)[None, :]
    photo = (clean / 255 * shade + 15).clip(0, 255)  # grey paper, dark-grey ink, a shadow from the left
    photo = cv.GaussianBlur(photo, (0, 0), 1.0).astype(np.uint8)
    assert np.corrcoef(to_numeral(photo).ravel(), to_numeral(clean.astype(np.uint8)).ravel())[0, 1] > 0.9


def test_blank_boxes_are_blank():
    assert to_numeral(np.full((99, 99), 255, np.uint8)) is None
    assert to_numeral(np.full((99, 99), 128, np.uint8)) is None  # grey paper, no ink
    noisy = np.clip(np.random.default_rng(0).normal(200, 4, (99, 99)), 0, 255).astype(np.uint8)
    assert to_numeral(noisy) is None  # sensor noise is not ink
    assert to_numeral(np.zeros((0, 0), np.uint8)) is None


def test_specks_are_not_part_of_the_digit():
    page = _drawn_digit()
    page[90:92, 2:4] = 0  # a dust speck far from the digit
    assert np.abs(to_numeral(page) - to_numeral(_drawn_digit())).max() < 1e-6


def test_a_speck_inside_a_loop_is_removed_like_any_other():
    ring = np.full((99, 99), 255, np.uint8)
    cv.circle(ring, (50, 50), 30, 0, 8)  # a '0'
    specked = ring.copy()
    specked[49:51, 49:51] = 0  # dust in its hole
    assert np.array_equal(find_ink(specked).mask, find_ink(ring).mask)
    assert len(find_ink(specked).blobs) == 1


def test_bgr_and_grey_inputs_agree():
    grey = _drawn_digit()
    np.testing.assert_allclose(to_numeral(cv.cvtColor(grey, cv.COLOR_GRAY2BGR)), to_numeral(grey))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int32]),
        shape=array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=64),
    )
)
def test_any_array_gives_a_finite_numeral_in_range_or_blank(image):
    if image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4):
        image = image[:, :, :3]
    numeral = to_numeral(image)
    if numeral is not None:
        assert numeral.shape == (28, 28) and numeral.dtype == np.float32
        assert np.isfinite(numeral).all() and numeral.min() >= 0.0 and numeral.max() <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        dtype=np.float32,
        shape=array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=80),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    )
)
def test_normalise_never_returns_nan_or_out_of_range(ink):
    numeral = normalise(ink)
    assert numeral is None or (np.isfinite(numeral).all() and 0.0 <= numeral.min() and numeral.max() <= 1.0)


def test_ink_mask_is_binary():
    values = np.unique(find_ink(_drawn_digit()).mask)
    assert set(values.tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (2, 2), (20, 1), (20, 2), (1, 20), (2, 20), (20, 3)])
def test_bounds_and_mass_centre_read_any_array_as_an_image(shape, dtype):
    # cv.moments and cv.boundingRect read a float32 or int32 array of two columns as a list of points.
    image = np.zeros(shape, dtype)
    image[shape[0] // 2 :, shape[1] - 1] = 1
    rows, cols = np.nonzero(image)
    assert ink_bounds(image) == (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1)
    assert mass_centre(image) == pytest.approx((cols.mean(), rows.mean()))
    assert mass_centre(np.zeros(shape, dtype)) is None and ink_bounds(np.zeros(shape, dtype)) == (0, 0, 0, 0)


@pytest.mark.parametrize("pen", [1, 2, 3, 5, 9, 15])
def test_a_tall_upright_stroke_is_a_numeral_not_a_blank(pen):
    page = np.full((200, 100), 255, np.uint8)
    cv.line(page, (50, 20), (50, 180), 0, pen)
    numeral = to_numeral(page)
    assert numeral is not None and max(_ink_box(numeral)) in (19, 20, 21)
