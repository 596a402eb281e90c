"""`python -m device gui`: the book's drawing window (program 7-7), a thin shell over `recognize`.

The user draws a zip code, one digit per red box, with the left mouse button. Everything that
decides what the window shows is a pure function of the strokes, the last result and the last
key's message (`Drawing`, `render_strokes`, `draw_result`, `status_bar`, `inputs_panel`), so tests
call them without a window; `run_gui` only wires the mouse and the keys to them, and writes the
PNGs `w` asks for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2 as cv
import numpy as np

from device.app.window import Window
from device.base.files import display_path, write_bytes
from device.layout import CANVAS_SIZE, blank_canvas, book_boxes
from device.recognize import Digit, PageError, Result, recognize
from device.runtime import Classifier

WINDOW = "ziplite: draw a zip code"
INPUTS_WINDOW = "ziplite: model inputs"
KEYS = (("r", "read"), ("e", "erase"), ("u", "undo"), ("s", "model inputs"), ("w", "write PNG"), ("q/Esc", "quit"))
KEY_HELP = "draw one digit per red box with the left mouse button; " + ", ".join(f"{k} {what}" for k, what in KEYS)
SAVE_FOLDER = Path("~/Pictures/ziplite")  # where `w` writes numbered PNGs unless --save names a file
SAVE_PATTERN = "zipcode-{:03d}.png"

BRUSH_RADIUS = 4
INK = (0, 0, 0)
TEXT_BASELINE = 185  # result text sits in the white strip under the boxes (y 150..200)
CONFIDENT_COLOUR = (0, 120, 0)
LOW_CONFIDENCE_COLOUR = (0, 100, 255)  # orange: the digit is shown with a "?" as well
BLANK_COLOUR = (170, 170, 170)
HINT_COLOUR = (120, 120, 120)
STATUS_HEIGHT = 24  # a bar under the book's 520x200 canvas: the keys, or what the last key did
STATUS_BACKGROUND = (235, 235, 235)
FONT = cv.FONT_HERSHEY_SIMPLEX

INPUT_SCALE = 4  # 28x28 model inputs shown as 112x112
INPUT_GAP = 8
BLANK_INPUT_GREY = 128
INPUTS_WINDOW_DROP = 40  # px between the drawing window and the inputs window, room for a title bar
FRAME_MS = 15  # waitKey's wait: the loop reacts to a key within one frame
ESCAPE = 27

Point = tuple[int, int]
Stroke = list[Point]


# ---- pure core: pictures from strokes and results ------------------------------------------


def draw_stroke(canvas: np.ndarray, stroke: Stroke, start: int = 0) -> None:
    """Ink `stroke` from point `start` on, in place, on the row of boxes only.

    Points are joined by lines as wide as the brush: the mouse reports positions tens of
    pixels apart when moved fast, and the book's circle-per-event left dotted strokes.
    """
    for i in range(max(start, 0), len(stroke)):
        if i == 0:
            cv.circle(canvas, stroke[0], BRUSH_RADIUS, INK, -1)
        else:
            cv.line(canvas, stroke[i - 1], stroke[i], INK, 2 * BRUSH_RADIUS + 1)
    _keep_to_the_form(canvas)


def _keep_to_the_form(canvas: np.ndarray) -> None:
    # The boxes are the printed form, not paper: ink must not erase them, or a stroke across a
    # shared side would join two boxes into one and recognize() would read four digits. Ink
    # outside the row of boxes is not read, and would cover the result text: it is not kept.
    canvas[_PRINTED] = _BLANK[_PRINTED]


def _outside_the_boxes() -> np.ndarray:
    mask = np.ones(CANVAS_SIZE, bool)
    for box in book_boxes():
        box.inside().crop(mask)[:] = False
    return mask


_BLANK = blank_canvas()
_PRINTED = _outside_the_boxes()  # the outlines and the margins: what ink never changes


def render_strokes(strokes: list[Stroke]) -> np.ndarray:
    """The clean canvas (boxes and ink, no result text) for these strokes."""
    canvas = blank_canvas()
    for stroke in strokes:
        draw_stroke(canvas, stroke)
    return canvas


def draw_result(canvas: np.ndarray, result: Result | None) -> np.ndarray:
    """A display copy of `canvas` with the result (or, before one, a hint) written on it.

    The zip line marks a low-confidence digit as its label does: orange, and underlined.
    """
    shown = canvas.copy()
    if result is None:
        cv.putText(shown, "draw a digit in each box, then press r", (10, 32), FONT, 0.55, HINT_COLOUR, 1, cv.LINE_AA)
        return shown
    x = _put(shown, "zip ", (10, 34), INK)
    for digit, char in zip(result.digits, result.zip):
        x = _put(shown, char, (x, 34), LOW_CONFIDENCE_COLOUR if digit.low_confidence else INK, digit.low_confidence)
    cv.putText(shown, f"{result.ms:.1f} ms", (440, 34), FONT, 0.5, HINT_COLOUR, 1, cv.LINE_AA)
    for digit, region in zip(result.digits, result.regions):
        _draw_digit(shown, digit, region.x + region.w // 2)
    return shown


def _put(image: np.ndarray, text: str, origin: Point, colour, underline: bool = False) -> int:
    """Write `text` in the zip line's font at `origin`; returns the x where the next text goes."""
    (width, _), _ = cv.getTextSize(text, FONT, 0.8, 2)
    cv.putText(image, text, origin, FONT, 0.8, colour, 2, cv.LINE_AA)
    if underline:
        cv.line(image, (origin[0], origin[1] + 5), (origin[0] + width, origin[1] + 5), colour, 2)
    return origin[0] + width


def status_bar(text: str | None) -> np.ndarray:
    """The strip under the canvas: `text` (what the last key did), or the keys when there is none."""
    bar = np.full((STATUS_HEIGHT, CANVAS_SIZE[1], 3), STATUS_BACKGROUND, np.uint8)
    text = text or "  ".join(f"{k} {what}" for k, what in KEYS)
    scale = 0.45
    while cv.getTextSize(text, FONT, scale, 1)[0][0] > CANVAS_SIZE[1] - 12 and scale > 0.3:
        scale -= 0.02  # a long file name: smaller, rather than cut
    cv.putText(bar, text, (6, STATUS_HEIGHT - 8), FONT, scale, INK, 1, cv.LINE_AA)
    return bar


def _draw_digit(image: np.ndarray, digit: Digit, centre_x: int) -> None:
    if digit.digit is None:
        _put_centred(image, "-", centre_x, 0.9, BLANK_COLOUR, 2)
        return
    colour = LOW_CONFIDENCE_COLOUR if digit.low_confidence else CONFIDENT_COLOUR
    mark = "?" if digit.low_confidence else ""
    _put_centred(image, f"{digit.digit}{mark} {digit.confidence:.2f}", centre_x, 0.7, colour, 2)


def _put_centred(image: np.ndarray, text: str, centre_x: int, scale: float, colour, thickness: int) -> None:
    (width, _), _ = cv.getTextSize(text, FONT, scale, thickness)
    cv.putText(image, text, (centre_x - width // 2, TEXT_BASELINE), FONT, scale, colour, thickness, cv.LINE_AA)


def inputs_panel(numerals: list[np.ndarray | None]) -> np.ndarray:
    """The model inputs side by side, enlarged, as the network sees them (ink white); blanks grey."""
    side = 28 * INPUT_SCALE
    tiles = []
    for numeral in numerals:
        if numeral is None:
            tile = np.full((side, side), BLANK_INPUT_GREY, np.uint8)
        else:
            pixels = np.clip(np.asarray(numeral, np.float32) * 255, 0, 255).astype(np.uint8)
            tile = cv.resize(pixels, (side, side), interpolation=cv.INTER_NEAREST)
        tiles += [tile, np.full((side, INPUT_GAP), 255, np.uint8)]
    panel = np.hstack(tiles[:-1]) if tiles else np.full((side, side), BLANK_INPUT_GREY, np.uint8)
    return cv.cvtColor(panel, cv.COLOR_GRAY2BGR)


class Drawing:
    """What the user has drawn, and what was last read from it."""

    def __init__(self) -> None:
        self.strokes: list[Stroke] = []
        self.result: Result | None = None
        self.canvas = blank_canvas()  # kept in step with strokes, so a mouse move draws one segment
        self.pen_is_down = False
        self.version = 0  # counts the edits, so a view of the drawing knows when it is stale
        self.status: str | None = None  # what the last key did, shown under the canvas

    def pen_down(self, x: int, y: int) -> None:
        self.strokes.append([(x, y)])
        self.pen_is_down = True
        self._changed()
        draw_stroke(self.canvas, self.strokes[-1])

    def pen_move(self, x: int, y: int) -> None:
        stroke = self.strokes[-1] if self.pen_is_down else None
        if stroke is not None and stroke[-1] != (x, y):  # the button-up event repeats the last move
            stroke.append((x, y))
            draw_stroke(self.canvas, stroke, start=len(stroke) - 1)

    def pen_up(self, x: int, y: int) -> None:
        self.pen_move(x, y)
        self.pen_is_down = False
        self.version += 1

    def undo(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self.pen_is_down = False
            self.canvas = render_strokes(self.strokes)
            self._changed()

    def erase(self) -> None:
        self.strokes.clear()
        self.pen_is_down = False
        self.canvas = blank_canvas()
        self._changed()

    def _changed(self) -> None:
        self.result = None  # a result no longer describes an edited drawing
        self.status = None
        self.version += 1

    def recognize(self, classifier: Classifier) -> Result:
        self.result = recognize(self.canvas, classifier, "boxed")
        return self.result

    def numerals(self, classifier: Classifier) -> list[np.ndarray | None]:
        """The model inputs of the drawing as it is now, without making them its result."""
        return (self.result or recognize(self.canvas, classifier, "boxed")).numerals

    def display(self) -> np.ndarray:
        """The window's picture: the canvas with the result on it, and the status bar under it."""
        return np.vstack([draw_result(self.canvas, self.result), status_bar(self.status)])


# ---- thin shell: the window ------------------------------------------------------------------


class NoWindow(Exception):
    """This machine cannot show the window: no display, or an OpenCV without GUI support. One line."""


def require_display() -> None:
    """Refuse to open a window where there is no display.

    Raises:
        NoWindow: on Linux when DISPLAY is unset or does not answer; without this check Qt
            aborts the whole process (SIGABRT) when it cannot connect.
    """
    if not sys.platform.startswith("linux"):
        return
    # opencv-python's Qt is built for X only (xcb): under Wayland it needs XWayland's DISPLAY.
    display = os.environ.get("DISPLAY")
    if not display:
        problem = "DISPLAY is not set"
    elif not _x_display_answers(display):
        problem = f"DISPLAY={display} does not answer"
    else:
        return
    raise NoWindow(
        f"no display for the GUI window ({problem}); use `python -m device recognize IMAGE` or "
        "`python -m device camera --source VIDEO_OR_FOLDER --no-window`"
    )


def _x_display_answers(name: str) -> bool:
    """Whether the X server `name` accepts a connection, asked through libX11 as Qt is about to.

    Qt aborts the process when it cannot connect; asking first turns that into one clear line.
    """
    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return True  # no libX11 to ask with: let Qt try
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(name.encode())
    if not handle:
        return False
    x11.XCloseDisplay(handle)
    return True


def default_save_folder() -> Path:
    return SAVE_FOLDER.expanduser()


def next_numbered_path(folder: Path) -> Path:
    """The first zipcode-NNN.png in `folder` that does not exist yet: `w` never replaces a file unasked."""
    number = 1
    while (folder / SAVE_PATTERN.format(number)).exists():
        number += 1
    return folder / SAVE_PATTERN.format(number)


@dataclass
class _Session:
    classifier: Classifier
    save_path: Path | None  # --save: one file, replaced by each `w` (said so); None: numbered files
    drawing: Drawing = field(default_factory=Drawing)
    inputs: Window | None = None  # the `s` window, once opened
    inputs_version: int = -1  # the drawing's version the `s` window shows


def run_gui(classifier: Classifier, save_path: Path | None = None) -> None:
    """Open the drawing window and serve it until q, Esc, Ctrl-C or the window is closed or destroyed.

    Args:
        save_path: the PNG `w` writes, replaced on each press; None writes zipcode-001.png,
            zipcode-002.png, ... in ~/Pictures/ziplite.
    """
    session = _Session(classifier, save_path)
    try:
        cv.namedWindow(WINDOW, cv.WINDOW_AUTOSIZE | cv.WINDOW_GUI_NORMAL)  # GUI_NORMAL: no Qt toolbar
    except cv.error:  # an OpenCV built without a GUI backend (opencv-python-headless)
        raise NoWindow(
            "this OpenCV has no window support (headless build): install opencv-python, "
            "or use `python -m device recognize IMAGE`"
        ) from None
    cv.setMouseCallback(WINDOW, _on_mouse, session.drawing)
    print(KEY_HELP, flush=True)
    window = Window(WINDOW)
    try:
        _serve(window, session)
    except KeyboardInterrupt:
        pass
    finally:
        for opened in (window, session.inputs):
            if opened is not None:
                opened.close()
        cv.destroyAllWindows()
        cv.waitKey(1)  # lets the GUI backend actually take the windows down


def _serve(window: Window, session: _Session) -> None:
    while True:
        cv.imshow(WINDOW, session.drawing.display())
        key = cv.waitKey(FRAME_MS)
        # Checked after waitKey, which is when the backend learns the window was closed; the
        # book's loop spun forever (and imshow would reopen the window) instead.
        if not window.is_open() or _is_quit(key):
            return
        _on_key(key, session)
        _refresh_inputs(session)


def _is_quit(key: int) -> bool:
    return key == ESCAPE or _char(key) == "q"


def _char(key: int) -> str:
    return chr(key & 0xFF).lower() if key >= 0 else ""


def _on_mouse(event: int, x: int, y: int, flags: int, drawing: Drawing) -> None:
    if event == cv.EVENT_LBUTTONDOWN:
        drawing.pen_down(x, y)
    elif event == cv.EVENT_MOUSEMOVE and flags & cv.EVENT_FLAG_LBUTTON:
        drawing.pen_move(x, y)
    elif event == cv.EVENT_LBUTTONUP:
        drawing.pen_up(x, y)


def _on_key(key: int, session: _Session) -> None:
    action, drawing = _char(key), session.drawing
    if action == "e":
        drawing.erase()
    elif action == "u":
        drawing.undo()
    elif action == "r":
        try:
            _announce(drawing.recognize(session.classifier))
        except PageError as error:  # a model that gives no probabilities: say so, keep the drawing
            drawing.status = f"cannot read the drawing: {error}"
            print(drawing.status, flush=True)
    elif action == "s":
        _open_inputs(session)
    elif action == "w":
        drawing.status = _write_canvas(drawing.canvas, session.save_path)


def _open_inputs(session: _Session) -> None:
    if session.inputs is None or not session.inputs.is_open():
        if session.inputs is not None:
            session.inputs.close()  # closed by the user: a new window, and a new watch on it
        cv.namedWindow(INPUTS_WINDOW, cv.WINDOW_AUTOSIZE | cv.WINDOW_GUI_NORMAL)
        session.inputs = Window(INPUTS_WINDOW)
        session.inputs_version = -1
        _refresh_inputs(session)
        x, y, _, height = cv.getWindowImageRect(WINDOW)  # below the drawing rather than over it
        cv.moveWindow(INPUTS_WINDOW, x, y + height + INPUTS_WINDOW_DROP)
    read = "" if session.drawing.result else "; not read yet, press r to read them"
    session.drawing.status = f"s: the model inputs of the drawing{read}"
    print(session.drawing.status, flush=True)


def _refresh_inputs(session: _Session) -> None:
    """Keep the `s` window showing the drawing as it is (after e, u and new strokes), while it is open."""
    drawing = session.drawing
    if session.inputs is None or drawing.pen_is_down or session.inputs_version == drawing.version:
        return
    if not session.inputs.is_open():
        session.inputs.close()
        session.inputs = None
        return
    try:
        numerals = drawing.numerals(session.classifier)
    except PageError as error:
        drawing.status = f"cannot read the drawing: {error}"
    else:
        cv.imshow(INPUTS_WINDOW, inputs_panel(numerals))
    session.inputs_version = drawing.version  # tried once for this drawing, read or not


def _announce(result: Result) -> None:
    print("\a", end="", flush=True)  # the book's winsound.Beep, on any terminal
    print(f"zip {result.summary}", flush=True)


def _write_canvas(canvas: np.ndarray, save_path: Path | None) -> str:
    """Write the canvas as PNG; returns the one line to show (printed too), success or not."""
    if save_path is None:
        folder = default_save_folder()
        target = next_numbered_path(folder)
    else:
        folder, target = save_path.parent, save_path
    problem = _unwritable(folder)
    replacing = save_path is not None and target.exists()
    ok, png = cv.imencode(".png", canvas)
    if problem is None and not ok:
        problem = "OpenCV could not encode the canvas as PNG"
    if problem is None:
        try:
            write_bytes(target, png.tobytes())
        except OSError as error:  # a bad path must not close the window and lose the drawing
            problem = error.strerror or str(error)
    name = _shown(target) if save_path is None else str(target)  # --save: as the user typed it
    if problem is not None:
        line = f"could not write {name}: {problem}"
        print(line, file=sys.stderr, flush=True)
        return line
    line = f"{'replaced' if replacing else 'wrote'} {name}"
    print(
        f"{line} ({canvas.shape[1]}x{canvas.shape[0]} PNG, {len(png)} bytes); "
        f"read it with: python -m device recognize {name}",
        flush=True,
    )
    return line


def _unwritable(folder: Path) -> str | None:
    """Why `folder` cannot take the PNG, or None. The default folder is made on first use; others must exist."""
    if folder == default_save_folder() and not folder.exists():
        try:
            folder.mkdir(parents=True)
        except OSError as error:
            return f"cannot create {folder}: {error.strerror or error}"
    return save_folder_problem(folder)


def _shown(path: Path) -> str:
    """`path` as the user would type it: relative below the working directory, else from ~ or /."""
    relative = display_path(path)
    if not relative.startswith(".."):
        return relative
    try:
        return str(Path("~") / path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path.resolve())


def save_folder_problem(folder: Path) -> str | None:
    """Why a PNG cannot be written into `folder` (it is missing, or a file, or read-only), or None."""
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                return f"{_shown(parent)} is a file, not a folder"
            break
    if not folder.exists():
        return f"folder {_shown(folder)} does not exist (create it, or pick another)"
    if not os.access(folder, os.W_OK):
        return f"folder {_shown(folder)} is not writable"
    return None
