"""Properties of the recogniser's own preprocessing over stroke geometry (hypothesis).

Every page goes through the path `recognize` runs (`recognize._numerals`: the boxed row or the
free segmentation, `layout.page_ink`, then `numeral.normalise`), no model needed. The shapes are
what writers draw: a straight stroke, an upright 1 with or without a foot and a flag, a 7, open
and closed 4s, a 0, at any height, pen, slant, place and scale of the canvas.
"""

from __future__ import annotations

import ast
import math

import cv2 as cv
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from device.layout import BOX_COUNT, SHARED_PIECE, blank_canvas, book_boxes, segment_free
from device.numeral import MIN_EXTENT, MIN_INK_PIXELS
from device.recognize import _numerals, recognize
from device.runtime import Classifier
from helpers import ROOT, SHIPPED_MODEL

# Each test stays well under 20 s on a loaded 2-core machine; the deadline is generous for the
# same reason (a page takes about a millisecond when the machine is idle).
QUICK = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

# Shapes as polylines in a unit box (x right, y down): what the digit looks like before its size,
# slant and pen. Widths are shares of the height.
SHAPES = {
    "stroke": (0.0, [[(0, 0), (0, 1)]]),
    "one_foot": (0.4, [[(0.2, 0), (0.2, 1)], [(0, 1), (0.4, 1)]]),
    "one_flag": (0.3, [[(0.3, 0), (0.3, 1)], [(0.3, 0), (0, 0.3)]]),
    "one_both": (0.4, [[(0.2, 0), (0.2, 1)], [(0.2, 0), (0, 0.25)], [(0, 1), (0.4, 1)]]),
    "seven": (0.6, [[(0, 0), (0.6, 0), (0.2, 1)]]),
    "seven_bar": (0.6, [[(0, 0), (0.6, 0), (0.2, 1)], [(0.2, 0.55), (0.55, 0.55)]]),
    "four_open": (0.7, [[(0.1, 0), (0, 0.65), (0.7, 0.65)], [(0.5, 0), (0.5, 1)]]),
    "four_closed": (0.7, [[(0.5, 0), (0, 0.65), (0.7, 0.65)], [(0.5, 0), (0.5, 1)]]),
    "zero": (0.7, [[(0.35 + 0.35 * math.sin(t), 0.5 - 0.5 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 25)]]),
}


def _draw(
    page: np.ndarray, shape: str, height: int, pen: int, slant_degrees: float, left: int, top: int, colour=(0, 0, 0)
) -> tuple[int, int, int, int]:
    """Draw `shape` with its ink `height` px tall (pen included) from (left, top); return its ink's x, y, w, h."""
    width_share, lines = SHAPES[shape]
    inner = height - pen + 1  # a round pen adds about half its width at each end
    slant = math.tan(math.radians(slant_degrees))
    reach = abs(slant) * inner
    for line in lines:
        points = [
            (left + pen // 2 + reach / 2 + x * inner - slant * (y - 0.5) * inner, top + pen // 2 + y * inner)
            for x, y in line
        ]
        cv.polylines(page, [np.round(np.array(points) * 16).astype(np.int32)], False, colour, pen, cv.LINE_8, 4)
    ink = np.nonzero(np.any(page != 255, axis=2) if page.ndim == 3 else page != 255)
    return _bounds(ink)


def _bounds(ink) -> tuple[int, int, int, int]:
    rows, cols = ink
    return int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def _width(shape: str, height: int, pen: int, slant_degrees: float) -> int:
    inner = height - pen + 1
    return int(SHAPES[shape][0] * inner + abs(math.tan(math.radians(slant_degrees))) * inner) + pen + 2


def _scaled_canvas(scale: float) -> tuple[np.ndarray, list]:
    canvas = blank_canvas()
    if scale != 1:
        # As an image editor shrinks and enlarges: INTER_LINEAR's shrinking skips whole 1 px lines.
        canvas = cv.resize(
            canvas, None, fx=scale, fy=scale, interpolation=cv.INTER_AREA if scale < 1 else cv.INTER_LINEAR
        )
    # Where a digit can go in each box: clear of its outline, which scaling widens to `scale` px and blurs.
    edge = 2 + math.ceil(1.5 * scale)
    insides = [
        (round(b.x * scale) + edge, round(b.y * scale) + edge, round(min(b.w, b.h) * scale) - 2 * edge)
        for b in book_boxes()
    ]
    return canvas, insides


def _assert_mnist_like(numeral: np.ndarray | None) -> None:
    assert numeral is not None, "a digit was read as blank"
    assert numeral.shape == (28, 28) and numeral.dtype == np.float32
    assert np.isfinite(numeral).all() and numeral.min() >= 0 and numeral.max() <= 1
    rows, cols = np.nonzero(numeral > 0)
    assert max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == 20
    total = float(numeral.sum())
    middle = 13.5
    assert abs(float(numeral.sum(axis=0) @ np.arange(28)) / total - middle) <= 1.0
    assert abs(float(numeral.sum(axis=1) @ np.arange(28)) / total - middle) <= 1.0


shapes = st.sampled_from(sorted(SHAPES))
slants = st.floats(-30, 30)


@st.composite
def boxed_digit(draw):
    """A canvas at some scale with one digit in one box: (canvas, box index)."""
    scale = draw(st.floats(0.5, 2.0))
    canvas, boxes = _scaled_canvas(scale)
    index = draw(st.integers(0, BOX_COUNT - 1))
    x, y, inner = boxes[index]
    shape, slant = draw(shapes), draw(slants)
    # A digit fills at least a fifth of its box (less is the blank rule's dot, see below) and at most all of it.
    height = draw(st.integers(max(10, math.ceil(0.2 * inner)), min(200, inner)))
    pen = draw(st.integers(1, max(1, min(20, height // 4))))
    width = _width(shape, height, pen, slant)
    if width > inner:
        height = max(10, int(height * inner / width))
        pen = min(pen, max(1, height // 4))
        width = _width(shape, height, pen, slant)
    left = x + draw(st.integers(0, max(0, inner - width)))
    top = y + draw(st.integers(0, inner - height))
    _draw(canvas, shape, height, pen, slant, left, top)
    return canvas, index


@given(boxed_digit())
@QUICK
def test_any_digit_in_any_box_is_an_mnist_numeral(case):
    canvas, index = case
    layout, _, numerals = _numerals(canvas, "boxed", BOX_COUNT)
    assert layout == "boxed"
    _assert_mnist_like(numerals[index])
    assert all(n is None for k, n in enumerate(numerals) if k != index)


@given(shapes, st.integers(10, 200), st.integers(1, 20), slants, st.integers(0, 300), st.integers(0, 100))
@QUICK
def test_any_digit_anywhere_on_paper_is_an_mnist_numeral(shape, height, pen, slant, left, top):
    pen = min(pen, max(1, height // 4))
    page = np.full((top + height + 40, left + _width(shape, height, pen, slant) + 40, 3), 255, np.uint8)
    _draw(page, shape, height, pen, slant, left + 20, top + 20)
    layout, regions, numerals = _numerals(page, "free", 1)
    assert layout == "free" and len(numerals) == 1
    _assert_mnist_like(numerals[0])


@given(st.integers(1, 20), st.integers(10, 200), st.booleans(), st.booleans(), st.floats(0, 1))
@QUICK
def test_an_upright_one_of_any_pen_and_height_is_never_blank(pen, height, foot, flag, roominess):
    """The GUI's own case: a straight 1 on the book's canvas (scaled so that the 1 fits its box and
    is not under the blank rule's MIN_EXTENT of it), and on paper."""
    pen = min(pen, max(1, height // 4))
    shape = {(False, False): "stroke", (True, False): "one_foot", (False, True): "one_flag", (True, True): "one_both"}
    fits = max(0.5, (height + 8) / 93)
    largest = max(fits, min(4.0, height / (1.1 * MIN_EXTENT * 101)))
    scale = fits + roominess * (largest - fits)
    canvas, boxes = _scaled_canvas(scale)
    x, y, _ = boxes[1]
    _draw(canvas, shape[foot, flag], height, pen, 0, x, y)
    _assert_mnist_like(_numerals(canvas, "boxed", BOX_COUNT)[2][1])
    page = np.full((height + 40, height + 40, 3), 255, np.uint8)
    _draw(page, shape[foot, flag], height, pen, 0, 20, 20)
    _assert_mnist_like(_numerals(page, "free", 1)[2][0])


@given(st.floats(0.5, 2.0), st.integers(0, BOX_COUNT - 1), st.floats(0.01, 0.99), st.floats(0, 1), st.floats(0, 1))
@QUICK
def test_a_dot_below_the_blank_threshold_is_blank_in_a_box(scale, index, size, across, down):
    canvas, boxes = _scaled_canvas(scale)
    x, y, inner = boxes[index]
    diameter = max(1, int(size * MIN_EXTENT * inner))  # under MIN_EXTENT of the box: a dot, a slip of the pen
    cx = x + diameter // 2 + int(across * (inner - diameter))
    cy = y + diameter // 2 + int(down * (inner - diameter))
    cv.circle(canvas, (cx, cy), (diameter - 1) // 2, (0, 0, 0), -1)  # 2r + 1 pixels across
    assert _numerals(canvas, "boxed", BOX_COUNT)[2] == [None] * BOX_COUNT


@given(st.integers(1, MIN_INK_PIXELS - 1), st.integers(0, 300), st.integers(0, 200), st.booleans())
@QUICK
def test_a_speck_below_the_blank_threshold_is_blank_on_paper(pixels, left, top, grey_paper):
    page = np.full((top + 40, left + 40, 3), 190 if grey_paper else 255, np.uint8)
    for k in range(pixels):  # a speck of `pixels` pixels, in a row
        page[top + 20, left + 20 + k] = 0
    for digits in (1, 5):
        assert all(n is None for n in _numerals(page, "free", digits)[2])


@given(st.sampled_from([15, 620]), st.integers(40, 160), st.integers(1, 14))
@QUICK
def test_a_dot_beside_digits_on_paper_is_blank(dot_x, dot_y, diameter):
    """A dot far from four digits, when five are expected: under MIN_EXTENT of the digits' height, it is blank."""
    page = np.full((200, 700, 3), 255, np.uint8)
    for left in (60, 180, 300, 420):
        _draw(page, "seven", 100, 8, 0, left, 50)
    cv.circle(page, (dot_x, dot_y), (diameter - 1) // 2, (0, 0, 0), -1)  # at most 14 px: under 0.15 of 100
    numerals = _numerals(page, "free", 5)[2]
    assert sum(n is None for n in numerals) == 1


@st.composite
def row_of_digits(draw):
    """A page of N digits of any shapes and sizes, each at least half the tallest's height away from the next."""
    count = draw(st.integers(1, 7))
    upright_ones = draw(st.booleans())
    tallest = draw(st.integers(30, 150))
    drawn = []
    for _ in range(count):
        shape = "stroke" if upright_ones else draw(shapes)
        height = draw(st.integers(max(10, tallest // 2), tallest))
        pen = draw(st.integers(1, max(1, min(20, height // 5))))
        slant = 0 if upright_ones else draw(st.floats(-20, 20))
        drawn.append((shape, height, pen, slant))
    page = np.full((tallest + 80, sum(_width(*d) for d in drawn) + count * tallest + 80, 3), 255, np.uint8)
    left, boxes = 40, []
    for shape, height, pen, slant in drawn:
        top = 30 + draw(st.integers(0, tallest - height + 10))
        single = np.full_like(page, 255)
        boxes.append(_draw(single, shape, height, pen, slant, left, top))
        page = np.minimum(page, single)
        left += _width(shape, height, pen, slant) + draw(st.integers(max(8, tallest // 2), tallest))
    return page, boxes


@given(row_of_digits())
@QUICK
def test_well_separated_digits_are_as_many_regions_left_to_right(case):
    page, boxes = case
    _, groups = segment_free(page, len(boxes))
    assert len(groups) == len(boxes)
    for group, (x, y, w, h) in zip(groups, boxes):  # left to right, each the whole of its digit
        assert (group.x, group.y, group.w, group.h) == (x, y, w, h)


@given(shapes, st.integers(20, 93), st.integers(1, 20), slants, st.integers(0, BOX_COUNT - 1))
@QUICK
def test_boxed_and_free_read_the_same_numeral_on_white_paper(shape, height, pen, slant, index):
    pen = min(pen, max(1, height // 4))
    canvas, boxes = _scaled_canvas(1.0)
    x, y, inner = boxes[index]
    height = min(height, inner)
    if _width(shape, height, pen, slant) > inner:
        slant = 0
        height = min(height, int(inner / (SHAPES[shape][0] + 0.1)) - pen)
        pen = min(pen, max(1, height // 4))
    _draw(canvas, shape, height, pen, slant, x, y)
    page = np.full_like(canvas, 255)
    _draw(page, shape, height, pen, slant, x, y)
    boxed = _numerals(canvas, "boxed", BOX_COUNT)[2][index]
    free = _numerals(page, "free", 1)[2][0]
    _assert_mnist_like(boxed)
    assert np.array_equal(boxed, free)


def test_the_guis_tall_upright_one_reads_as_1():
    """The bug report's own case: a straight 1 drawn with the GUI's brush (9 px) in the first box."""
    canvas = blank_canvas()
    cv.line(canvas, (60, 60), (60, 140), (0, 0, 0), 9)
    assert recognize(canvas, Classifier(SHIPPED_MODEL)).zip == "1????"


def test_shape_dependent_opencv_calls_go_through_one_helper():
    """cv.moments and cv.boundingRect read a float32 or int32 array of two columns as points, not an
    image: only `ink_bounds` and `mass_centre` call them on images (remove_specks' boundingRect of
    its outlines is a call on points, meant as such)."""
    calls = []
    for package in ("device", "train", "bench", "convert"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("moments", "boundingRect")
                ):
                    calls.append((path.relative_to(ROOT).as_posix(), node.func.attr, ast.unparse(node.args[0])))
    assert sorted(calls) == [
        ("device/numeral.py", "boundingRect", "mask"),
        ("device/numeral.py", "boundingRect", "piece"),
        ("device/numeral.py", "moments", "image"),
    ]


@given(
    shapes,
    st.integers(40, 90),
    st.integers(2, 12),
    slants,
    st.integers(0, BOX_COUNT - 1),
    st.sampled_from(["left", "right", "top", "bottom"]),
    st.floats(0.1, 0.4),
)
@QUICK
def test_a_digit_across_its_box_line_is_read_whole_in_its_own_box(shape, height, pen, slant, index, side, over):
    """Painted over the line (as the GUI's brush does), into the margin or the next box, by less
    than SHARED_PIECE of its ink (more is two digits touching, below). Not along a side: a side
    under ink for more than a fifth of its length is not found as a line (a known limit of
    find_boxes). Above or below the row, only the row's margin is read (12 px at the book's scale)."""
    assume(side in ("left", "right") or round(over * height) + 3 <= 10)
    pen = min(pen, height // 4)
    canvas, boxes = _scaled_canvas(1.0)
    x, y, inner = boxes[index]
    width = min(_width(shape, height, pen, slant), inner)
    left = {"left": x - 3 - round(over * width), "right": x + inner + 3 - width + round(over * width)}.get(side, x + 5)
    top = {"top": y - 3 - round(over * height), "bottom": y + inner + 3 - height + round(over * height)}.get(
        side, y + 2
    )
    _draw(canvas, shape, height, pen, slant, left, top)
    page = np.full_like(canvas, 255)
    _draw(page, shape, height, pen, slant, left, top)
    ink = page[:, :, 0] < 128
    box = book_boxes()[index]
    for column in (box.x, box.x + box.w - 1):
        assume(ink[box.y : box.y + box.h, column].mean() < 0.2)
    others = sum(int(ink[b.y : b.y + b.h, b.x : b.x + b.w].sum()) for k, b in enumerate(book_boxes()) if k != index)
    assume(others < SHARED_PIECE * ink.sum())
    numerals = _numerals(canvas, "boxed", BOX_COUNT)[2]
    assert np.array_equal(numerals[index], _numerals(page, "free", 1)[2][0])  # whole: as on plain paper
    assert all(n is None for k, n in enumerate(numerals) if k != index)


@given(st.integers(1, BOX_COUNT - 1), st.integers(3, 8), st.integers(0, 30), st.integers(2, 4))
@QUICK
def test_two_digits_touching_across_their_line_are_two_digits(right_box, pen, drop, one_from_line):
    """A 7 whose bar reaches over its right-hand line to the next box's 1: each box still reads a digit."""
    canvas, boxes = _scaled_canvas(1.0)
    x, y, inner = boxes[right_box]
    one_left = x + one_from_line
    _draw(canvas, "stroke", 70, pen, 0, one_left, y + 10 + drop)
    seven_width = _width("seven", 70, pen, 0) - 2  # its ink's width
    _draw(canvas, "seven", 70, pen, 0, one_left + pen // 2 - seven_width, y + 10)  # the bar's end on the 1
    numerals = _numerals(canvas, "boxed", BOX_COUNT)[2]
    assert numerals[right_box - 1] is not None and numerals[right_box] is not None
