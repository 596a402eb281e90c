"""Where the digits are on a page: the GUI's five red boxes, or free handwriting.

The canvas is the book's program 7-7: 520x200, white, five red boxes at x = 10+100i .. 110+100i,
y = 50 .. 150. `recognize` finds the boxes by colour, so a canvas saved at another scale works too.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from statistics import median  # numpy's costs 10 us on a handful of numbers; this, under 1

import cv2 as cv
import numpy as np

from device.numeral import MIN_EXTENT, QUARTER_SIZE_FROM, Ink, as_gray, find_ink

CANVAS_SIZE = (200, 520)  # rows, columns
BOX_COUNT = 5
BOX_COLOUR = (0, 0, 255)  # BGR red
BOX_TOP, BOX_BOTTOM = 50, 150
BOX_LEFT, BOX_PITCH = 10, 100
MIN_LINE = 40  # red pixels in a row before it can be a box's top or bottom edge
HORIZONTAL_LINE = 0.5  # a box's top or bottom edge: a row at least this share as red as the reddest
VERTICAL_LINE = 0.6  # a box's side: a column red over at least this share of the rows between them
MIN_SAMPLED_RED = 4  # fewer red pixels in every fourth row, and no boxes of solid lines can be found:
# they need two sides of at least 12 px (0.6 of a 20 px band), 6 px in those rows
# Free handwriting of up to 20 digits is tens of groups of ink. Joining marks to digits compares
# every mark with every digit, so a page of thousands (dots, a texture) is not read as handwriting.
MAX_GROUPS = 1_000
MARK_REACH = 0.25  # a small mark this share of a digit's width from it, or nearer, is part of it
SHARED_PIECE = 0.3  # a piece of ink this share of which lies in each of two boxes is two touching digits


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y : self.y + self.h, self.x : self.x + self.w]

    def moved(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def inside(self) -> Rect:
        """The rectangle within a 1 px outline drawn around this one's edge."""
        return Rect(self.x + 1, self.y + 1, self.w - 2, self.h - 2)


def book_boxes() -> list[Rect]:
    """The five boxes of the book's canvas (their outlines, 1 px red lines included)."""
    return [Rect(BOX_LEFT + BOX_PITCH * i, BOX_TOP, BOX_PITCH + 1, BOX_BOTTOM - BOX_TOP + 1) for i in range(BOX_COUNT)]


def blank_canvas() -> np.ndarray:
    canvas = np.full((*CANVAS_SIZE, 3), 255, np.uint8)
    for box in book_boxes():
        cv.rectangle(canvas, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1), BOX_COLOUR, 1)
    return canvas


def red_mask(image: np.ndarray) -> np.ndarray:
    """uint8 mask (1 = red) of a BGR page: the boxes' outlines.

    Red by dominance rather than by value, so JPEG's smeared, pinkish 1-px lines still count.
    """
    blue, green, red = cv.split(image[:, :, :3])
    # In place: each new array is another page-sized block to bring into the cache, on every page.
    dominance = cv.max(green, blue)
    cv.subtract(red, dominance, dst=dominance)  # saturates at 0
    cv.threshold(dominance, 60, 1, cv.THRESH_BINARY, dst=dominance)
    cv.threshold(red, 120, 1, cv.THRESH_BINARY, dst=red)
    return cv.bitwise_and(dominance, red, dst=dominance)


def _in_colour(page: np.ndarray) -> bool:
    return page.ndim == 3 and page.shape[2] >= 3


def boxed_row(page: np.ndarray) -> tuple[list[Rect], Rect, np.ndarray] | None:
    """The red boxes on a BGR page, the band of the page that holds them (`row_of`), and that
    band's red mask; None for a page without boxes.

    The book's own canvas, the GUI's, is recognised by its outline pixels alone, and a page
    without red is passed over after a look at every fourth row: searching a whole page for
    red lines was a fifth of a recognition.
    """
    if not _in_colour(page):
        return None
    if page.shape[:2] == CANVAS_SIZE:
        red = red_mask(_BOOK_ROW.crop(page))
        if _book_outlines_in(red, _BOOK_ROW):
            return list(_BOOK_INSIDES), _BOOK_ROW, red
    if cv.countNonZero(red_mask(page[::4])) < MIN_SAMPLED_RED:
        return None
    return searched_row(page)


def searched_row(page: np.ndarray) -> tuple[list[Rect], Rect, np.ndarray] | None:
    """`boxed_row` the long way, for any page: the whole page's red mask searched for lines."""
    red = red_mask(page)
    boxes = find_boxes(page, red)
    if not boxes:
        return None
    row = row_of(boxes, page.shape)
    return boxes, row, row.crop(red)


def _book_outlines_in(red: np.ndarray, row: Rect) -> bool:
    """Whether the red mask of the band `row` of a book-sized canvas holds the book's outlines
    where the GUI draws them: each a line by `find_boxes`' own measures, and the rows and columns
    just inside them not. `find_boxes` then finds the same boxes, unless there is red elsewhere
    (a red rule above the boxes misleads it, not this)."""
    top, bottom, left = BOX_TOP - row.y, BOX_BOTTOM - row.y, BOX_LEFT - row.x
    width = BOX_COUNT * BOX_PITCH + 1
    outline_rows = min(cv.countNonZero(red[y, left : left + width]) for y in (top, bottom))
    inside_rows = max(cv.countNonZero(red[y, left : left + width]) for y in (top + 1, bottom - 1))
    band = red[top + 1 : bottom, left : left + width]
    counts = _counts(band.take(_SIDE_COLUMNS + _INSIDE_COLUMNS, axis=1), axis=0).tolist()  # one copy, one sum
    sides, insides = counts[: len(_SIDE_COLUMNS)], counts[len(_SIDE_COLUMNS) :]
    # Rows this red are lines whatever the reddest row of the page: over half of its width.
    return (
        outline_rows >= 0.9 * width
        and inside_rows < HORIZONTAL_LINE * outline_rows
        and min(sides) >= VERTICAL_LINE * len(band)
        and max(insides) < VERTICAL_LINE * len(band)
    )


# Columns of the book's row of boxes, from the left edge of the first: each box's sides, and the
# columns just inside them.
_SIDE_COLUMNS = list(range(0, BOX_COUNT * BOX_PITCH + 1, BOX_PITCH))
_INSIDE_COLUMNS = [side + step for side in _SIDE_COLUMNS for step in (-1, 1) if 0 < side + step < _SIDE_COLUMNS[-1]]


def find_boxes(image: np.ndarray, red: np.ndarray | None = None) -> list[Rect]:
    """The insides of a row of red boxes, left to right; [] when there are none.

    The outlines are found as red lines by projection (rows, then columns, that are mostly
    red), not as closed contours: a digit stroke drawn across a box's edge, or JPEG fading a
    stretch of it, breaks a contour but not a line. `red` is the page's `red_mask`, if known.
    """
    if not _in_colour(image):
        return []
    red = red_mask(image) if red is None else red
    if cv.countNonZero(red) < 2 * MIN_LINE:  # a page without boxes, at a tenth of the cost of looking for lines
        return []
    row_counts = _counts(red, axis=1)
    if row_counts.max(initial=0) < MIN_LINE:
        return []
    horizontal = _line_runs(row_counts >= HORIZONTAL_LINE * row_counts.max())
    if len(horizontal) < 2:
        return []
    top, bottom = horizontal[0], horizontal[-1]
    band = red[top[1] : bottom[0]]
    vertical = _line_runs(_counts(band, axis=0) >= VERTICAL_LINE * len(band)) if len(band) >= 20 else []
    boxes = []
    for left, right in zip(vertical, vertical[1:]):
        box = Rect(left[1], top[1], right[0] - left[1], bottom[0] - top[1])
        if box.w >= 20 and 0.5 <= box.w / box.h <= 2:
            boxes.append(box)
    return boxes


def row_of(boxes: list[Rect], page_shape: tuple[int, ...], margin: int = 12) -> Rect:
    """The part of the page that holds `boxes`, with at least `margin` pixels of paper around it (clipped).

    The margin gives the paper estimate some paper beyond the outlines; it grows, where the page
    allows, until the row is tall enough for that estimate to work at a quarter of the resolution
    (a GUI canvas's boxes are 99 px inside their outlines).
    """
    rows, columns = page_shape[:2]
    margin = max(margin, -(-(QUARTER_SIZE_FROM - max(b.h for b in boxes)) // 2))
    left, top = max(0, min(b.x for b in boxes) - margin), max(0, min(b.y for b in boxes) - margin)
    right = min(columns, max(b.x + b.w for b in boxes) + margin)
    bottom = min(rows, max(b.y + b.h for b in boxes) + margin)
    return Rect(left, top, right - left, bottom - top)


# The book canvas's boxes and their row, made once: a GUI canvas is read every time `r` is pressed.
_BOOK_INSIDES = [box.inside() for box in book_boxes()]
_BOOK_ROW = row_of(_BOOK_INSIDES, CANVAS_SIZE)


def _counts(mask: np.ndarray, axis: int) -> np.ndarray:
    """Set pixels per row (axis=1) or column (axis=0) of a 0/1 mask."""
    # numpy's sum is faster than cv.reduce here, and 16-bit sums (when they cannot overflow) faster still.
    return mask.sum(axis=axis, dtype=np.uint16 if mask.shape[axis] <= 65535 else np.int32)


def box_inks(ink: np.ndarray, boxes: list[Rect]) -> list[np.ndarray]:
    """Each box's own ink, from the ink map `ink` of the page the boxes are in.

    Usually just the box's part of the map. When ink reaches a box's edge, a digit crosses its
    box's line (into the margin or the next box): then each connected piece of ink belongs to
    the box that holds most of it, and a box's ink is its own pieces, whole, wherever they reach,
    and nothing of its neighbours'. A piece of which two boxes each hold at least SHARED_PIECE is
    two digits touching across their line: each box keeps its own part of it.
    """
    if not _ink_on_edges(ink, boxes):
        return [box.crop(ink) for box in boxes]
    count, pieces, stats, _ = cv.connectedComponentsWithStats(ink, connectivity=8)
    inside = np.stack([np.bincount(box.crop(pieces).ravel(), minlength=count) for box in boxes])
    inside[:, 0] = 0  # the paper
    shared = (inside >= SHARED_PIECE * stats[:, cv.CC_STAT_AREA]).sum(axis=0) >= 2
    owner = np.where((inside.max(axis=0) > 0) & ~shared, inside.argmax(axis=0), -1)
    inks = []
    for index, box in enumerate(boxes):
        own = np.flatnonzero(owner == index)
        region = box
        for piece in own:
            region = _union(region, Rect(*map(int, stats[piece, :4])))
        mask = np.isin(region.crop(pieces), own).astype(np.uint8)
        part = box.moved(-region.x, -region.y).crop(mask)  # a view: the box's own part of a shared piece
        part |= np.isin(box.crop(pieces), np.flatnonzero(shared)).astype(np.uint8)
        inks.append(mask)
    return inks


def _ink_on_edges(ink: np.ndarray, boxes: list[Rect]) -> bool:
    """Whether ink lies on the outermost rows or columns of any box (or, for boxes at different
    heights, of their columns between the highest top and the lowest bottom).

    Two copies of a few rows and columns and two counts: checking each box's four edges was
    twenty numpy calls, 60 us a page.
    """
    top, bottom = min(box.y for box in boxes), max(box.y + box.h for box in boxes)
    left, right = min(box.x for box in boxes), max(box.x + box.w for box in boxes)
    rows = sorted({box.y for box in boxes} | {box.y + box.h - 1 for box in boxes})
    columns = sorted({box.x for box in boxes} | {box.x + box.w - 1 for box in boxes})
    return (
        cv.countNonZero(ink.take(rows, axis=0)[:, left:right]) > 0
        or cv.countNonZero(np.ascontiguousarray(ink[top:bottom].take(columns, axis=1))) > 0
    )


def page_ink(image: np.ndarray, red: np.ndarray | None = None) -> Ink:
    """The page's ink, with the red box outlines (if any) taken for paper.

    Not the red channel, where outlines look like paper too: JPEG's chroma subsampling darkens a
    1 px red line there to about half the paper's brightness, which reads as ink.
    """
    gray = as_gray(image)
    if red is not None:
        # A new array, `image` is left alone. numpy's uint8 product: cv.multiply by a scalar is 7x slower here.
        gray = cv.max(gray, red * np.uint8(255))
    return find_ink(gray)


def _line_runs(is_line: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of consecutive True values: one run per (possibly thick) line."""
    padded = np.zeros(len(is_line) + 2, bool)
    padded[1:-1] = is_line
    edges = np.flatnonzero(padded[1:] != padded[:-1]).tolist()
    return list(zip(edges[::2], edges[1::2]))


def segment_free(image: np.ndarray, digits: int) -> tuple[np.ndarray, list[Rect]]:
    """Split free handwriting into `digits` groups of ink, left to right.

    Connected components are joined when they overlap horizontally (the broken strokes of one
    digit) and small marks join the digit beside them. Marks far from any digit are dots, unless
    digits are missing: then they may be short digits (a 1 beside a tall 8, or its two halves),
    and count as groups too, unless they are dots (under MIN_EXTENT of the tallest digit, as a
    dot in a box is under MIN_EXTENT of the box). Then, while there are too many groups, the two
    closest neighbours are joined; while there are too few, the widest group is cut at its
    thinnest column (touching digits).

    Returns:
        (the page's ink map, one Rect per group, at most `digits` of them).
    """
    ink = page_ink(image)
    groups = _overlapping_groups(ink.blobs)
    if len(groups) > MAX_GROUPS:  # not handwriting: read as no digits, in a bounded time
        return ink.mask, []
    groups, far_marks = _attach_marks(groups)
    if len(groups) < digits:
        groups = sorted(groups + _not_dots(far_marks, groups), key=lambda group: group.x)
    groups = _join_closest(groups, digits)
    while len(groups) < digits:
        split = _split_widest(groups, ink.mask)
        if split is None:
            break
        groups = split
    return ink.mask, groups


def _overlapping_groups(blobs: np.ndarray) -> list[Rect]:
    rects = sorted((Rect(*map(int, row)) for row in blobs), key=lambda rect: rect.x)
    groups: list[Rect] = []
    for rect in rects:
        if groups and _overlap(groups[-1], rect) >= 0.5 * min(rect.w, groups[-1].w):
            groups[-1] = _union(groups[-1], rect)
        else:
            groups.append(rect)
    return groups


def place_missing(groups: list[Rect], digits: int) -> list[Rect | None]:
    """`groups` with a None wherever one of `digits` seems to be missing, left to right.

    A gap between two groups that is wider than the usual gap by about a digit and a gap (the
    pitch) held a digit that left no readable ink (too faint, rubbed out): the missing one goes
    there. Any still missing go at the end.
    """
    slots: list[Rect | None] = list(groups)
    if len(groups) >= 2:
        gaps = _gaps(groups)
        usual_gap = median(gaps)
        pitch = median([g.w for g in groups]) + usual_gap
        for gap, index in sorted(((g, i) for i, g in enumerate(gaps)), reverse=True):  # widest first
            room = min(round((gap - usual_gap) / pitch), digits - len(slots))
            if room > 0:
                at = slots.index(groups[index]) + 1
                slots[at:at] = [None] * room
    return slots + [None] * max(digits - len(slots), 0)


def _attach_marks(groups: list[Rect]) -> tuple[list[Rect], list[Rect]]:
    """Join each mark far smaller than the tallest group to the nearest digit-sized one.

    A gap in a stroke can leave a small piece beside a digit's body (a 7's bar, a 5's flag, half
    of a 1): read apart, the body is misread and the piece is not a digit. A mark within
    MARK_REACH of the usual digit width from a digit belongs to it. Dropping every mark instead
    read 90.4% of the free zip codes of 1,000 benchmark canvases (`--seed 7`) and 92.1% of the
    photos; attaching them, 91.3% and 92.9%.

    Returns:
        (the digit-sized groups with their marks, left to right; the marks near none of them).
    """
    if not groups:
        return groups, []
    tallest = max(group.h for group in groups)
    is_mark = [max(group.w, group.h) < MIN_EXTENT * 2 * tallest for group in groups]
    bodies = [group for group, mark in zip(groups, is_mark) if not mark]  # digit-sized; the tallest is one
    reach = MARK_REACH * median([body.w for body in bodies])
    far_marks = []
    for mark in (group for group, is_one in zip(groups, is_mark) if is_one):
        nearest = max(range(len(bodies)), key=lambda k: _overlap(bodies[k], mark))
        if -_overlap(bodies[nearest], mark) <= reach:  # the gap between them, negative where they overlap
            bodies[nearest] = _union(bodies[nearest], mark)
        else:
            far_marks.append(mark)
    return sorted(bodies, key=lambda body: body.x), far_marks


def _not_dots(marks: list[Rect], bodies: list[Rect]) -> list[Rect]:
    """The marks that are not dots: at least MIN_EXTENT of the tallest digit-sized group."""
    tallest = max((body.h for body in bodies), default=0)
    return [mark for mark in marks if max(mark.w, mark.h) >= MIN_EXTENT * tallest]


def _overlap(a: Rect, b: Rect) -> int:
    return min(a.x + a.w, b.x + b.w) - max(a.x, b.x)


def _union(a: Rect, b: Rect) -> Rect:
    x, y = min(a.x, b.x), min(a.y, b.y)
    return Rect(x, y, max(a.x + a.w, b.x + b.w) - x, max(a.y + a.h, b.y + b.h) - y)


def _gaps(groups: list[Rect]) -> list[int]:
    """The horizontal gap between each group and the next, left to right (negative where they overlap)."""
    return [_gap(a, b) for a, b in zip(groups, groups[1:])]


def _gap(a: Rect, b: Rect) -> int:
    return b.x - (a.x + a.w)


def _join_closest(groups: list[Rect], digits: int) -> list[Rect]:
    """`groups` (left to right) with the two closest neighbours joined, again and again, until
    `digits` are left: each time the narrowest gap, the leftmost of equal ones.

    The gaps wait in a heap, and a gap a join has changed is checked when it comes up, so n
    groups take O(n log n): rescanning every gap after each join took over 60 s for the 50,000
    dots of a 40 x 200,000 page. Joining keeps a group's left edge (groups are in x order), so
    only the gap to its right changes.
    """
    if len(groups) <= digits:
        return groups
    groups, end = list(groups), len(groups)
    right_of = list(range(1, end + 1))  # the next group still standing; `end` for none
    joined = [False] * end
    gaps = [(gap, i) for i, gap in enumerate(_gaps(groups))]
    heapq.heapify(gaps)
    for _ in range(len(groups) - digits):
        while True:
            gap, i = heapq.heappop(gaps)
            j = right_of[i]
            if not joined[i] and j < end and gap == _gap(groups[i], groups[j]):
                break
        groups[i], joined[j], right_of[i] = _union(groups[i], groups[j]), True, right_of[j]
        if right_of[i] < end:
            heapq.heappush(gaps, (_gap(groups[i], groups[right_of[i]]), i))
    return [group for group, gone in zip(groups, joined) if not gone]


def _split_widest(groups: list[Rect], ink: np.ndarray) -> list[Rect] | None:
    if not groups:
        return None
    i = max(range(len(groups)), key=lambda k: groups[k].w / max(groups[k].h, 1))
    rect = groups[i]
    # Two touching digits are about twice as wide as one. Some single digits (a slanted 5, a
    # long-barred 7) are wider than tall, so the yardstick is the other digits' width when
    # there are enough of them to tell.
    one_digit = median([g.w for g in groups]) if len(groups) >= 3 else 0.9 * rect.h
    if rect.w < 1.5 * one_digit or rect.w < 0.9 * rect.h or rect.w < 8:  # one digit: nothing to split
        return None
    profile = rect.crop(ink).sum(axis=0)
    middle = slice(rect.w // 4, 3 * rect.w // 4)
    cut = middle.start + int(np.argmin(profile[middle]))
    left, right = Rect(rect.x, rect.y, cut, rect.h), Rect(rect.x + cut, rect.y, rect.w - cut, rect.h)
    return groups[:i] + [left, right] + groups[i + 1 :]
