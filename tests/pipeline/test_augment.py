"""The robust dmlp's augmentation: what it does to digits, and `train dmlp --augment` end to end."""

import json

import cv2 as cv
import numpy as np
import pytest

from helpers import run
from train.augment import AugmentSettings, _slant, augment_batch, augment_digit
from train.recipes import CHAPTER, RECIPES, robust


@pytest.fixture(scope="module")
def digits(mnist_path):
    with np.load(mnist_path) as data:
        return data["x_train"][:400], data["y_train"][:400]


def _ink_box(numeral):
    rows, cols = np.nonzero(numeral > 0)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_batch_is_float_in_range_same_shape_and_leaves_input_alone(digits):
    images = digits[0].copy()
    out = augment_batch(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.isfinite(out).all()
    assert np.array_equal(images, digits[0])


def test_same_generator_state_same_augmentation(digits):
    first = augment_batch(digits[0], np.random.default_rng([1, 7]))
    second = augment_batch(digits[0], np.random.default_rng([1, 7]))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, augment_batch(digits[0], np.random.default_rng([1, 8])))


def test_a_share_of_digits_is_kept_as_mnist_gave_them(digits):
    out = augment_batch(digits[0], np.random.default_rng(3), AugmentSettings(keep_original=0.25))
    kept = np.mean([np.array_equal(o, d / 255.0) for o, d in zip(out, digits[0].astype(np.float32))])
    assert 0.15 < kept < 0.35


def test_augmented_digits_are_normalised_like_the_device_does(digits):
    rng = np.random.default_rng(4)
    for image in digits[0][:50]:
        numeral = augment_digit(image, rng)
        assert max(_ink_box(numeral)) == 20  # the longest side, as MNIST fitted it
        moments = cv.moments(numeral)
        assert abs(moments["m10"] / moments["m00"] - 13.5) <= 1.0 and abs(moments["m01"] / moments["m00"] - 13.5) <= 1.0


@pytest.mark.parametrize("radius, compare", [(3, np.greater), (-2, np.less)])
def test_stroke_width_changes_with_the_pen(digits, radius, compare):
    still = AugmentSettings(
        max_shift=0,
        scale=(1, 1),
        max_rotation=0,
        max_shear=0,
        elastic_alpha=0,
        broken=0,
        stroke_radius=(0, 0),
        pen_redraw=0,
    )
    pen = AugmentSettings(**{**still.__dict__, "stroke_radius": (radius, radius)})
    inks = [
        (
            augment_digit(image, np.random.default_rng(5), pen).sum(),
            augment_digit(image, np.random.default_rng(5), still).sum(),
        )
        for image in digits[0][:30]
    ]
    assert np.mean([compare(changed, plain) for changed, plain in inks]) > 0.8


def test_pen_redraw_gives_one_stroke_width_set_by_the_pen(digits):
    fine, marker = (
        AugmentSettings(
            max_shift=0,
            scale=(1, 1),
            max_rotation=0,
            max_shear=0,
            elastic_alpha=0,
            broken=0,
            pen_redraw=1,
            pen_radius=(r, r),
        )
        for r in (1, 5)
    )
    for image in digits[0][:20]:
        thin = augment_digit(image, np.random.default_rng(8), fine)
        thick = augment_digit(image, np.random.default_rng(8), marker)
        assert thick.sum() > 1.3 * thin.sum()


def test_warps_move_ink_but_keep_the_digit(digits):
    """A warped digit still looks like its class: it correlates best with its own original among 10."""
    images, labels = digits
    rng = np.random.default_rng(6)
    right = 0
    # Random warps only: a deslanted digit (upright) rightly differs from its slanted original.
    plain = AugmentSettings(stroke_radius=(0, 0), broken=0, dotted=0, box_cut=0, upright=0)
    for index in range(100):
        warped = augment_digit(images[index], rng, plain)
        scores = [np.corrcoef(warped.ravel(), images[j].ravel())[0, 1] for j in range(index, index + 10)]
        right += int(np.argmax(scores) == 0)
        assert not np.allclose(warped, images[index] / 255.0, atol=0.05)
    assert right >= 80


@pytest.mark.slow
def test_train_with_augment_writes_dmlp_aug(tmp_path, mnist_path):
    done = run(
        ["-m", "train", "dmlp", "--augment", "--epochs", "1", "--data", str(mnist_path), "--out", str(tmp_path)],
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "dmlp_aug.json").read_text())
    assert report["augment"] is True and report["recipe"] == "dmlp" and report["name"] == "dmlp_aug"
    assert report["augment_settings"]["pen_redraw"] == AugmentSettings().pen_redraw
    assert report["optimizer"] == {"name": "adam", "learning_rate": 0.001, "schedule": "cosine"}
    assert report["test_accuracy"] >= 0.93
    assert (tmp_path / "dmlp_aug.keras").is_file() and not (tmp_path / "dmlp.keras").exists()
    assert "dmlp_aug epoch 1/1" in done.stdout


def test_robust_recipe_decays_its_learning_rate_and_the_books_do_not():
    chapter = RECIPES["dmlp"]
    steps = [robust(chapter).learning_rate_at(epoch, 50) for epoch in range(50)]
    assert steps[0] == pytest.approx(10 * chapter.learning_rate)
    assert steps[25] == pytest.approx(5 * chapter.learning_rate)
    assert all(a > b for a, b in zip(steps, steps[1:])) and 0 < steps[-1] < 0.01 * steps[0]
    books = [RECIPES[name] for name in CHAPTER]
    assert {recipe.learning_rate_at(epoch, 50) for recipe in books for epoch in (0, 49)} == {
        recipe.learning_rate for recipe in books
    }
    assert robust(chapter).layers == chapter.layers and robust(chapter).loss == chapter.loss


def test_camera_blur_roughens_the_edges_but_keeps_the_digit(digits):
    """A blurred, re-binarised digit differs from its sharp twin but still looks most like it among 10."""
    plain = AugmentSettings(ragged=0.0, broken=0.0)
    camera = AugmentSettings(ragged=1.0, broken=0.0)
    sharp = [augment_digit(image, np.random.default_rng(seed), plain) for seed, image in enumerate(digits[0][:60])]
    rough = [augment_digit(image, np.random.default_rng(seed), camera) for seed, image in enumerate(digits[0][:50])]
    right = changed = 0
    for index, numeral in enumerate(rough):
        changed += int(not np.array_equal(numeral, sharp[index]))  # a fine pen blurred away stays sharp
        scores = [np.corrcoef(numeral.ravel(), sharp[j].ravel())[0, 1] for j in range(index, index + 10)]
        right += int(np.argmax(scores) == 0)
    assert changed >= 40 and right >= 45


def test_upright_digits_lose_their_slant(digits):
    images, labels = digits
    upright = AugmentSettings(upright=1.0, elastic_alpha=0, broken=0, dotted=0, box_cut=0, ragged=0, scale=(1, 1))
    ones = images[labels == 1][:20]
    slants = [
        abs(_slant((augment_digit(image, np.random.default_rng(9), upright) * 255).astype(np.uint8))) for image in ones
    ]
    assert np.median(slants) < 0.1 < np.median([abs(_slant(image)) for image in ones])


def test_every_digit_not_kept_is_augmented_even_when_the_writer_variants_cut_a_lot(digits):
    images, labels = digits
    harsh = AugmentSettings(keep_original=0, broken=1, box_cut=1, dotted=1, writer=1, pen_redraw=1)
    out = augment_batch(images[:60], np.random.default_rng(10), harsh, labels=labels[:60])
    assert not any(np.array_equal(o, d / 255.0) for o, d in zip(out, images[:60].astype(np.float32)))
    assert all(max(_ink_box(numeral)) == 20 for numeral in out)
