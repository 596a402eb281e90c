"""Finding the boxes and the ink on a page with the GUI's red boxes."""
import cv2 as cv
import numpy as np
import pytest

from device.layout import blank_canvas, book_boxes, find_boxes, page_ink, red_mask, segment_free


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


def _handwriting(extra_marks=()):
    """Five digit-like strokes on white paper, 70 px tall, plus any extra marks (x, y, w, h)."""
    page = np.full((160, 560, 3), 255, np.uint8)
    for i in range(5):
        left = 40 + 100 * i
        cv.line(page, (left + 25, 45), (left + 15, 115), (0, 0, 0), 6)  # a stem
        cv.line(page, (left + 5, 45), (left + 25, 45), (0, 0, 0), 6)    # its bar
    for x, y, w, h in extra_marks:
        page[y: y + h, x: x + w] = 0
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
    page[:, 240:340] = 255                                     # the third digit...
    cv.line(page, (290, 96), (288, 112), (0, 0, 0), 4)         # ...is a 1 a fifth as tall as the others
    groups = segment_free(page, 5)[1]
    assert len(groups) == 5 and 284 <= groups[2].x <= 290 and groups[2].h < 30
