"""The benchmark's canvas renderer: sizes, layouts, seeds, and that it draws real MNIST test digits."""

import numpy as np
import pytest

from bench.render import Style, draw_digit, render, skeleton
from bench.writers import WRITERS, render_writer
from device.layout import book_boxes, find_boxes
from device.numeral import find_ink


@pytest.fixture(scope="module")
def mnist_test(mnist_path):
    with np.load(mnist_path) as data:
        return data["x_test"], data["y_test"]


@pytest.mark.parametrize("height, radius", [(40, 1), (65, 3), (95, 6)])
def test_drawn_digit_has_the_asked_height_and_pen(mnist_test, height, radius):
    mask = draw_digit(mnist_test[0][0], height, radius, slant=0.0, broken=False, rng=np.random.default_rng(0))
    rows = np.flatnonzero(mask.any(axis=1))
    assert abs((rows.max() - rows.min() + 1) - height) <= 3
    bones = skeleton(mask)
    assert 0 < bones.sum() < mask.sum() / max(radius, 1)  # the pen is wider than the skeleton


def test_skeleton_is_one_pixel_wide_and_connected():
    bar = np.zeros((40, 60), np.uint8)
    bar[15:26, 5:55] = 1
    bones = skeleton(bar)
    assert bones[:, 15:45].sum(axis=0).max() == 1
    import cv2 as cv

    assert cv.connectedComponents(bones)[0] == 2  # background + one piece


def test_boxed_canvas_is_the_guis_layout(mnist_test):
    canvas, truth = render("boxed", *mnist_test, np.random.default_rng(0))
    assert canvas.shape == (200, 520, 3) and len(truth) == 5 and truth.isdigit()
    boxes = find_boxes(canvas)
    assert [(b.x, b.y, b.w, b.h) for b in boxes] == [(box.x + 1, box.y + 1, 99, 99) for box in book_boxes()]
    for box in boxes:
        assert find_ink(box.crop(canvas)).mask.sum() > 20  # every box holds a digit


@pytest.mark.parametrize("layout", ["free", "photo"])
def test_paper_layouts_have_no_boxes_and_five_digits_of_ink(mnist_test, layout):
    canvas, truth = render(layout, *mnist_test, np.random.default_rng(1), Style(height=(60, 60)))
    assert find_boxes(canvas) == [] and len(truth) == 5
    assert 80 < canvas.shape[0] < 250


def test_photo_paper_is_grey_and_uneven(mnist_test):
    canvas, _ = render("photo", *mnist_test, np.random.default_rng(2))
    paper = canvas[:10].mean(axis=(0, 2)), canvas[-10:].mean(axis=(0, 2))
    assert 120 < canvas[:20].mean() < 250 and np.ptp(np.concatenate(paper)) > 5


def test_same_seed_same_canvas(mnist_test):
    first = render("photo", *mnist_test, np.random.default_rng(5))
    second = render("photo", *mnist_test, np.random.default_rng(5))
    assert first[1] == second[1] and np.array_equal(first[0], second[0])


@pytest.mark.parametrize("writer", WRITERS, ids=lambda writer: writer.name)
def test_each_writer_draws_its_digit_in_every_layout_it_names(writer, mnist_path):
    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    rng = np.random.default_rng(12)
    for layout in writer.layouts:
        for _ in range(3):
            canvas, truth = render_writer(writer, layout, images, labels, rng)
            assert canvas.ndim == 3 and canvas.dtype == np.uint8 and len(truth) == 5 and truth.isdigit()
            assert writer.label is None or str(writer.label) in truth
            assert (canvas < 128).any()  # ink on the page
