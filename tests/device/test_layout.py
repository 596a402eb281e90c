"""Finding the boxes and the ink on a page with the GUI's red boxes."""

import cv2 as cv
import numpy as np
import pytest

from device import layout
from device.layout import (
    BOX_COLOUR,
    blank_canvas,
    book_boxes,
    boxed_row,
    find_boxes,
    page_ink,
    red_mask,
    searched_row,
    segment_free,
)


def _jpeg(page, quality=60):
    ok, data = cv.imencode(".jpg", page, [cv.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv.imdecode(data, cv.IMREAD_COLOR)


@pytest.mark.parametrize("save", [lambda page: page, _jpeg], ids=["png", "jpeg"])
def test_the_red_outlines_are_paper_and_the_digit_is_ink(save):
    canvas = blank_canvas()
    cv.line(canvas, (40, 70), (60, 130), (0, 0, 0), 7)  # one stroke in the first box
    page = save(canvas)
    ink = page_ink(page, red_mask(page))
    assert len(ink.blobs) == 1  # the stroke alone: no outline, and no JPEG fringe of one
    x, y, w, h = ink.blobs[0]
    assert 30 <= x and x + w <= 70 and 60 <= y and y + h <= 140


def test_boxes_are_found_where_the_gui_draws_them():
    expected = [(box.x + 1, box.y + 1, box.w - 2, box.h - 2) for box in book_boxes()]  # inside the 1 px outline
    assert [(b.x, b.y, b.w, b.h) for b in find_boxes(_jpeg(blank_canvas(), 90))] == expected


def test_a_few_red_pixels_are_not_boxes():
    page = np.full((200, 520, 3), 255, np.uint8)
    page[100, 10:60] = (0, 0, 255)  # one short red line: fewer red pixels than two box edges
    assert red_mask(page).sum() == 50 and find_boxes(page) == []


def _same(found, expected):
    if found is None or expected is None:
        return found is expected
    return found[:2] == expected[:2] and np.array_equal(found[2], expected[2])


@pytest.mark.parametrize("quality", [None, 90, 60])
def test_the_book_canvas_is_known_by_its_outlines_without_a_search(mnist_path, quality, monkeypatch):
    from bench.render import render

    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    rng = np.random.default_rng(3)
    pages = [render("boxed", images, labels, rng)[0] for _ in range(12)]
    pages = [page if quality is None else _jpeg(page, quality) for page in pages]
    # Where the GUI draws them: the insides of its boxes at x 11..509, y 51..149, and a row with
    # 12 px of paper around them, clipped at the canvas's left and right edges.
    insides = [layout.Rect(11 + 100 * i, 51, 99, 99) for i in range(5)]
    row = layout.Rect(0, 39, 520, 123)

    def no_search(*args):
        raise AssertionError("the book's canvas was searched for boxes")

    monkeypatch.setattr(layout, "find_boxes", no_search)
    for page in pages:
        found = boxed_row(page)
        assert found is not None and found[0] == insides and found[1] == row
        if quality is None:  # a PNG's red pixels are exactly the boxes' colour
            assert np.array_equal(found[2] > 0, np.all(row.crop(page) == BOX_COLOUR, axis=2))


def test_strokes_across_the_outlines_find_what_the_search_finds():
    rng = np.random.default_rng(4)
    searched = 0
    for _ in range(40):
        page = blank_canvas()
        for _ in range(int(rng.integers(1, 6))):  # strokes over the edges, as the book's window allows
            x, y = int(rng.integers(0, 520)), int(rng.integers(40, 160))
            end = (x + int(rng.integers(-60, 60)), y + int(rng.integers(-60, 60)))
            cv.line(page, (x, y), end, (0, 0, 0), int(rng.integers(3, 12)))
        expected = searched_row(page)
        searched += expected is None or len(expected[0]) < 5
        assert _same(boxed_row(page), expected)
    assert searched > 0  # some strokes cut a side enough that the search finds fewer boxes


@pytest.mark.parametrize(
    "change", ["scaled", "moved", "thick", "no outlines", "two boxes", "ink along a side", "small boxes"]
)
def test_other_pages_are_searched_for_boxes(change):
    page = blank_canvas()
    cv.line(page, (40, 70), (60, 130), (0, 0, 0), 7)
    if change == "scaled":
        page = cv.resize(page, (780, 300), interpolation=cv.INTER_NEAREST)
    elif change == "moved":  # the book's size, its boxes 3 px lower
        page = np.roll(page, 3, axis=0)
    elif change == "thick":  # outlines 2 px wide: the insides are a pixel smaller
        page = cv.erode(page, np.ones((1, 2), np.uint8))
        page = cv.erode(page, np.ones((2, 1), np.uint8))
    elif change == "no outlines":
        page[red_mask(page) == 1] = 255
    elif change == "two boxes":
        page[:, 215:] = 255
    elif change == "ink along a side":  # the side between boxes 2 and 3 is under ink for half its length
        cv.line(page, (210, 60), (210, 105), (0, 0, 0), 3)
    elif change == "small boxes":  # 22 px boxes, about the least the search finds
        page = np.full((60, 100, 3), 255, np.uint8)
        for left in (10, 33):
            cv.rectangle(page, (left, 20), (left + 23, 43), BOX_COLOUR, 1)
    expected = searched_row(page)
    assert _same(boxed_row(page), expected)
    assert (expected is None) == (change == "no outlines")
    if change in ("moved", "thick", "ink along a side"):
        assert [box.inside() for box in book_boxes()] != expected[0]


def _handwriting(extra_marks=()):
    """Five digit-like strokes on white paper, 70 px tall, plus any extra marks (x, y, w, h)."""
    page = np.full((160, 560, 3), 255, np.uint8)
    for i in range(5):
        left = 40 + 100 * i
        cv.line(page, (left + 25, 45), (left + 15, 115), (0, 0, 0), 6)  # a stem
        cv.line(page, (left + 5, 45), (left + 25, 45), (0, 0, 0), 6)  # its bar
    for x, y, w, h in extra_marks:
        page[y : y + h, x : x + w] = 0
    return page


def test_a_piece_broken_off_a_digit_stays_with_it_and_a_far_dot_is_dropped():
    whole = segment_free(_handwriting(), 5)[1]
    page = _handwriting()
    page[38:53, 156:161] = 255  # a gap cuts the second digit's bar off its stem, as a pen lifted early
    broken = segment_free(page, 5)[1]
    assert len(broken) == 5 and broken[1].x <= whole[1].x + 1 and broken[1].w >= whole[1].w - 1
    dotted = segment_free(_handwriting(extra_marks=[(280, 140, 5, 5)]), 5)[1]  # a dot far below, between digits
    assert dotted == whole


def test_a_short_digit_among_tall_ones_is_a_digit_not_a_dot():
    page = _handwriting()
    page[:, 240:340] = 255  # the third digit...
    cv.line(page, (290, 96), (288, 112), (0, 0, 0), 4)  # ...is a 1 a fifth as tall as the others
    groups = segment_free(page, 5)[1]
    assert len(groups) == 5 and 284 <= groups[2].x <= 290 and groups[2].h < 30
