"""Turn one handwritten digit, drawn or photographed, into the model's 28x28 input.

MNIST digits were size-normalised to fit 20x20 and centred by centre of mass in 28x28; a digit
drawn in a box is neither, and the book's plain resize reads about a quarter of them.
`normalise` is that step, for a region of an ink map: `recognize` finds the page's ink once
(`find_ink`, by way of `layout.page_ink`) and normalises each box or free-layout group of it;
`to_numeral` is the same two steps for an image of one digit alone.
The training augmentation ends in `normalise` too.

OpenCV gives some calls a second meaning by the array's shape: `cv.moments` and
`cv.boundingRect` read a float32 or int32 array of two columns as a list of points, not as an
image, so a digit normalised to 2 px wide (a tall, upright 1) had no mass and came out blank.
`ink_bounds` and `mass_centre` are the only ways into those two calls for images.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device.base.contract import IMAGE_SIDE

DIGIT_BOX = 20  # MNIST's digit box inside the 28x28 frame
MIN_CONTRAST = 0.25  # ink must be at least this much darker than the paper around it
SPECK_FRACTION = 0.03  # pieces of ink smaller than this share of the largest are specks,
SPECK_EXTENT = 0.3  # unless they reach this share of the longest piece's length (a thin 1 beside bold digits)
MIN_INK_PIXELS = 6  # less ink than this is a blank box, never a guess
MIN_EXTENT = 0.15  # nor is a mark smaller than this share of its region (a dot, a slip)
QUARTER_SIZE_FROM = 120  # pages at least this many pixels each way estimate their paper at a quarter size,
# and take Otsu's level from a quarter of their rows
# More separate pieces of ink than this is not handwriting (a halftone, a texture, a page of dots):
# no ink. Counting each piece costs Python work and memory, 12 s and 530 MB for 395,000 dots on 40 MP.
MAX_PIECES = 20_000
PIECE_BAND_PIXELS = 1 << 22  # pixels labelled at once while counting pieces (16 MB of labels)


def as_gray(image: np.ndarray) -> np.ndarray:
    """Any grey, BGR or BGRA array of any dtype as 2D uint8, paper light, ink dark."""
    image = np.asarray(image)
    if image.ndim == 2 and image.dtype == np.uint8:
        return image
    return cv.cvtColor(to_bgr8(image), cv.COLOR_BGR2GRAY)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Grey, grey+alpha, BGR or BGRA of any depth as 3-channel uint8, transparent areas on white paper.

    Float (and wide integer) pixels are taken to be in [0, 1] or in [0, 255], whichever the bulk
    of the page says (`value_scale`; [0, 255] when it cannot tell, which `read_image` refuses).
    Converted a band of rows at a time, so a deep or transparent page never has a page-sized
    float copy: a 40 MP 16-bit BGRA page in float64 was 1.3 GB.

    Raises:
        ValueError: an array that is not an image.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    if image.dtype == np.uint8 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    scale = value_scale(image) or 1.0
    page = np.empty((*image.shape[:2], 3), np.uint8)
    rows = max(1, BAND_PIXELS // max(image.shape[1], 1))
    for top in range(0, image.shape[0], rows):
        page[top : top + rows] = _band_to_bgr8(image[top : top + rows], scale)
    return page


BAND_PIXELS = 1 << 20  # pixels `to_bgr8` converts at once: a few MB of temporaries whatever the page
PAPER_SHARE = 0.99  # a page is mostly paper: the value this share of its pixels reach is the paper's


def _band_to_bgr8(band: np.ndarray, scale: float) -> np.ndarray:
    band = _to_uint8(band, scale)
    colour = band
    if band.shape[2] in (2, 4):  # the last channel is alpha
        colour, alpha = band[:, :, :-1], band[:, :, -1:].astype(np.float32) / 255.0
        colour = (colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if colour.shape[2] == 1:
        return cv.cvtColor(colour, cv.COLOR_GRAY2BGR)
    return colour


def _to_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image // 257).astype(np.uint8)
    if image.dtype == np.bool_:
        return np.where(image, 255, 0).astype(np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 become infinity: white, or 0
        image = np.nan_to_num(image.astype(np.float32) * np.float32(scale), nan=255.0, posinf=255.0, neginf=0.0)
    return np.rint(np.clip(image, 0, 255, out=image), out=image).astype(np.uint8)


def value_scale(image: np.ndarray) -> float | None:
    """What float (or wide integer) pixels are multiplied by to make 0..255: 255 for [0, 1], 1 for
    [0, 255], None when the page does not say which.

    Decided by the paper (the value PAPER_SHARE of the pixels reach, from about a million of them),
    never by the maximum: one stray pixel at 1.0001, or OpenCV's own float TIFF of a page (paper
    at up to 1.0166), made a [0, 1] page read as [0, 255], all ink. Paper up to 1.5 is [0, 1]
    (brighter values are clipped to white); from 32 to 300, [0, 255]; between, or above, the
    range is anyone's guess.
    """
    if image.dtype in (np.uint8, np.uint16, np.bool_) or image.size == 0:
        return 1.0
    step = max(1, int((image.shape[0] * image.shape[1] / 1e6) ** 0.5))
    sample = image[::step, ::step].astype(np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:  # nothing but NaN or infinity: read as paper, like every NaN
        return 255.0
    paper = float(np.quantile(finite, PAPER_SHARE))
    if paper <= 1.5:
        return 255.0
    if 32 <= paper <= 300:
        return 1.0
    return None


@dataclass(frozen=True)
class Ink:
    """The ink found on a page."""

    mask: np.ndarray  # uint8 0/1, the page's shape
    blobs: np.ndarray  # (K, 4) int: x, y, w, h of each connected piece of ink kept, in page pixels


def find_ink(gray: np.ndarray) -> Ink:
    """The ink on a grey page, and where each connected piece of it lies.

    The paper's own brightness is estimated by a grey closing (a local maximum wider than any
    stroke, then smoothed), so a shadow or a gradient across a photo is not mistaken for ink.
    Ink is what is clearly darker than the paper around it, by Otsu's threshold on that
    darkness but never less than MIN_CONTRAST; specks of noise are removed. All in uint8
    OpenCV calls: this runs for every recognition.
    """
    gray = as_gray(gray)
    if gray.size == 0:
        return _no_ink(gray.shape)
    darkness = _darkness(gray)
    # A page with nothing darker than MIN_CONTRAST leaves an empty mask, which remove_specks reports as no ink.
    level = max(MIN_CONTRAST * 255, _otsu_level(darkness))
    _, mask = cv.threshold(darkness, level, 1, cv.THRESH_BINARY, dst=darkness)  # in place: one page-sized array fewer
    return remove_specks(mask)


def _darkness(gray: np.ndarray) -> np.ndarray:
    """How much darker each pixel is than the paper around it: (paper - gray) / paper, as 0..255.

    The subtraction saturates at 0 where a pixel is lighter than the paper, and OpenCV's
    division gives 0 where the paper is 0. On paper that is white throughout (every canvas the
    GUI saves) this is 255 - gray exactly, without stretching the estimate to the page's size
    and dividing by it, which took a tenth of a recognition.
    """
    paper = _paper(gray)
    if cv.minMaxLoc(paper)[0] == 255:
        return cv.bitwise_not(gray)
    if paper.shape != gray.shape:
        # Stretched over the whole page, the last rows that the quarter size left out included.
        # Where a pixel is lighter than this estimate, its darkness saturates at 0: no need to raise it.
        paper = cv.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv.INTER_LINEAR)
    darkness = cv.subtract(paper, gray)
    return cv.divide(darkness, paper, dst=darkness, scale=255)


def _otsu_level(darkness: np.ndarray) -> float:
    """Otsu's threshold of the darkness, from every fourth row of a large page.

    The threshold depends only on the histogram, which a quarter of the rows gives as well, and
    building the histogram is most of Otsu's cost. Whole rows are a view OpenCV reads in place.
    """
    sample = darkness[::4] if min(darkness.shape) >= QUARTER_SIZE_FROM else darkness
    level, _ = cv.threshold(sample, 0, 255, cv.THRESH_BINARY + cv.THRESH_OTSU)
    return level


def _no_ink(shape: tuple[int, ...]) -> Ink:
    return Ink(np.zeros(shape, np.uint8), np.zeros((0, 4), int))


def _paper(gray: np.ndarray) -> np.ndarray:
    """The paper's local brightness: a max filter wider than any stroke, smoothed.

    Computed at a quarter of the size on large pages (light varies slowly; the filter is 16x
    cheaper there), and returned at that size. The square window is separable; the blur rounds its corners.
    """
    shrink = 4 if min(gray.shape) >= QUARTER_SIZE_FROM else 1
    small = gray
    if shrink > 1:
        # The part of the page that is a multiple of 4 px, halved twice: INTER_AREA's exact-half
        # path is 3.5x faster here than one quarter step, 10x faster than a ratio that is not whole,
        # and within 3 grey levels of either.
        rows, columns = gray.shape[0] // shrink, gray.shape[1] // shrink
        small = gray[: rows * shrink, : columns * shrink]
        while small.shape[0] > rows:  # shrink is a power of two
            small = cv.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv.INTER_AREA)
    size = _odd(max(3, min(small.shape) // 5))
    kernel = cv.getStructuringElement(cv.MORPH_RECT, (size, size))
    # INTER_AREA averaged ink into the small image; the max filter takes the paper back.
    return cv.blur(cv.dilate(small, kernel), (size, size))


def remove_specks(mask: np.ndarray) -> Ink:
    """Drop connected pieces of ink far smaller than the largest one (noise, dust, JPEG debris).

    Small in ink and in length both: a 1 drawn with a fine pen holds less ink than a speck's
    share of a marker's 0, but is as long as a digit.

    A piece's amount of ink is counted inside its bounding box, so ink of another piece that
    reaches into that box counts too. `mask` is left alone: the Ink holds a cleaned copy, or
    `mask` itself when there is nothing to remove.
    """
    left, top, width, height = ink_bounds(mask)  # outlines are traced only where there is ink
    if width == 0:
        return _no_ink(mask.shape)
    inked = mask[top : top + height, left : left + width]
    if _over_max_pieces(inked):  # before tracing them: 395,000 outlines alone took 230 MB
        return _no_ink(mask.shape)
    pieces = _outer_outlines(inked, (left, top))
    if len(pieces) > MAX_PIECES:
        return _no_ink(mask.shape)
    rects = [cv.boundingRect(piece) for piece in pieces]  # outlines: int32 (K, 1, 2) point lists, meant as points
    # Other pieces seldom reach into a bounding box: on 900 benchmark pages (300 per layout) these
    # counts removed the same specks as exact labelling (connectedComponentsWithStats) on all but 2,
    # at half its cost, which was a sixth of a whole recognition. Per-piece calls make a page of
    # thousands of noise specks slow either way (labelling cleared each speck in its own call).
    amounts = [cv.countNonZero(mask[y : y + h, x : x + w]) for x, y, w, h in rects]
    least = max(2, SPECK_FRACTION * max(amounts)) if len(pieces) > 1 else 0
    shortest = SPECK_EXTENT * max(max(w, h) for _, _, w, h in rects)
    is_speck = [amount < least and max(w, h) < shortest for amount, (_, _, w, h) in zip(amounts, rects)]
    if any(is_speck):
        mask = mask.copy()
        cv.drawContours(mask, [piece for piece, speck in zip(pieces, is_speck) if speck], -1, 0, cv.FILLED)
    kept = [rect for rect, speck in zip(rects, is_speck) if not speck]
    return Ink(mask, np.array(kept, int).reshape(-1, 4))


def _over_max_pieces(mask: np.ndarray) -> bool:
    """Whether a 0/1 mask surely holds more than MAX_PIECES 8-connected pieces, without tracing them.

    Free for most pages: any two pixels of a 2x2 cell touch, so each cell of the mask holds ink
    of one piece at most, and each piece has a pixel; a small mask or little ink settles it.
    Otherwise the mask is labelled a band of rows at a time (one label image for 40 MP is 160 MB)
    and a piece counts only in a band that holds the whole of it. So the count is never above the
    truth; the pieces it misses each cross a band's edge (a few per column and band edge at most),
    and the exact count after tracing (`remove_specks`) catches them.
    """
    cells = ((mask.shape[0] + 1) // 2) * ((mask.shape[1] + 1) // 2)
    if cells <= MAX_PIECES or cv.countNonZero(mask) <= MAX_PIECES:
        return False
    rows = max(1, PIECE_BAND_PIXELS // mask.shape[1])
    whole = 0
    for top in range(0, mask.shape[0], rows):
        band = mask[top : top + rows]
        _, _, stats, _ = cv.connectedComponentsWithStats(band, connectivity=8)
        first, last = stats[1:, cv.CC_STAT_TOP], stats[1:, cv.CC_STAT_TOP] + stats[1:, cv.CC_STAT_HEIGHT]
        clear_above = (first > 0) | (top == 0)  # the page's own edge is no band edge
        clear_below = (last < len(band)) | (top + len(band) == len(mask))
        whole += int(np.count_nonzero(clear_above & clear_below))
        if whole > MAX_PIECES:
            return True
    return False


def _outer_outlines(mask: np.ndarray, offset: tuple[int, int]) -> list[np.ndarray]:
    """The outer outline of each 8-connected piece of ink, in page pixels.

    RETR_CCOMP, not RETR_EXTERNAL: a piece inside another's hole (a speck in the loop of a 6)
    has an outline of its own.
    """
    outlines, hierarchy = cv.findContours(mask, cv.RETR_CCOMP, cv.CHAIN_APPROX_SIMPLE, offset=offset)
    if hierarchy is None:
        return []
    return [outline for outline, links in zip(outlines, hierarchy[0]) if links[3] < 0]  # no parent: not a hole


def normalise(ink: np.ndarray) -> np.ndarray | None:
    """MNIST's normalisation of a region's ink map: crop, fit the longest side to 20 px, centre of mass to the middle.

    Returns:
        float32 (28, 28) in [0, 1], ink high; or None when the region holds too little ink to be
        a digit: fewer than MIN_INK_PIXELS, or a mark whose longest side is under MIN_EXTENT of
        the region's shorter side (a dot in a box is blank, never a guess).
    """
    ink = np.asarray(ink)
    if ink.dtype != np.uint8:  # find_ink's masks are uint8 0/1 already; anything else is sanitised
        ink = np.clip(np.nan_to_num(ink.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        ink = (ink > 0.5).astype(np.uint8)
    if ink.ndim != 2 or ink.size == 0 or cv.countNonZero(ink) < MIN_INK_PIXELS:
        return None
    left, top, width, height = ink_bounds(ink)
    if max(width, height) < MIN_EXTENT * min(ink.shape):
        return None
    crop = ink[top : top + height, left : left + width].astype(np.float32)
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv.INTER_AREA if scale < 1 else cv.INTER_LINEAR
    digit = cv.resize(crop, size, interpolation=interpolation)
    np.minimum(digit, 1.0, out=digit)  # interpolation can overshoot 1 by a rounding error; it never goes below 0
    return _centre_by_mass(digit)


def _centre_by_mass(digit: np.ndarray) -> np.ndarray | None:
    centre = mass_centre(digit)
    if centre is None:
        return None
    height, width = digit.shape
    middle = IMAGE_SIDE / 2 - 0.5
    # Plain Python arithmetic: numpy's scalar functions cost microseconds each, five digits a page.
    top = _clamp(round(middle - centre[1]), IMAGE_SIDE - height)
    left = _clamp(round(middle - centre[0]), IMAGE_SIDE - width)
    return cv.copyMakeBorder(
        digit, top, IMAGE_SIDE - height - top, left, IMAGE_SIDE - width - left, cv.BORDER_CONSTANT, value=0.0
    )


def ink_bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x, y, width, height of the non-zero pixels of a 2D image; all 0 when it has none.

    Given to `cv.boundingRect` as uint8 0/1, which it always reads as an image: a float32 or
    int32 array of two columns it would read as a list of points.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2D ink map, got shape {mask.shape}")
    if mask.dtype != np.uint8:
        mask = (mask != 0).astype(np.uint8)
    return cv.boundingRect(mask)


def mass_centre(image: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of the centre of mass of a 2D image's values, in pixels; None when it has no mass.

    `cv.moments` reads a float32 or int32 array that could be a list of points (two columns,
    or one of two channels) as one: a 2 px wide digit had no mass. Float64 and uint8 arrays it
    always reads as an image, whatever their shape.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
    moments = cv.moments(image)
    if moments["m00"] <= 0:
        return None
    return moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]


def _clamp(value: int, highest: int) -> int:
    return max(0, min(int(value), highest))


def to_numeral(image: np.ndarray) -> np.ndarray | None:
    """One digit's region of a page (grey or BGR, light paper, dark ink) as the model's 28x28 input.

    Returns:
        float32 (28, 28) in [0, 1], ink high; None for a blank region (no digit, never a guess).
    """
    return normalise(find_ink(image).mask)


def _odd(value: int) -> int:
    return value if value % 2 else value + 1
