"""`python -m device gui`: the book's drawing window (program 7-7), a thin shell over `recognize`.

The user draws a zip code, one digit per red box, with the left mouse button. Everything that
decides what the window shows is a pure function of the strokes and the last result (`Drawing`,
`render_strokes`, `draw_result`, `inputs_panel`), so tests call them without a window;
`run_gui` only wires the mouse and the keys to them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import cv2 as cv
import numpy as np

from device.base.files import write_bytes
from device.layout import blank_canvas
from device.recognize import Digit, Result, recognize
from device.runtime import Classifier

WINDOW = "ziplite: draw a zip code"
INPUTS_WINDOW = "ziplite: model inputs"
KEY_HELP = ("draw one digit per red box with the left mouse button; "
            "r recognize, u undo, e erase, s show model inputs, w write PNG, q or Esc quit")

BRUSH_RADIUS = 4
INK = (0, 0, 0)
TEXT_BASELINE = 185          # result text sits in the white strip under the boxes (y 150..200)
CONFIDENT_COLOUR = (0, 120, 0)
LOW_CONFIDENCE_COLOUR = (0, 100, 255)   # orange: the digit is shown with a "?" as well
BLANK_COLOUR = (170, 170, 170)
HINT_COLOUR = (120, 120, 120)
FONT = cv.FONT_HERSHEY_SIMPLEX

INPUT_SCALE = 4              # 28x28 model inputs shown as 112x112
INPUT_GAP = 8
BLANK_INPUT_GREY = 128
INPUTS_WINDOW_DROP = 40      # px between the drawing window and the inputs window, room for a title bar
FRAME_MS = 15                # waitKey's wait: the loop reacts to a key within one frame
ESCAPE = 27

Point = tuple[int, int]
Stroke = list[Point]


# ---- pure core: pictures from strokes and results ------------------------------------------

def draw_stroke(canvas: np.ndarray, stroke: Stroke, start: int = 0) -> None:
    """Ink `stroke` from point `start` on, in place.

    Points are joined by lines as wide as the brush: the mouse reports positions tens of
    pixels apart when moved fast, and the book's circle-per-event left dotted strokes.
    """
    for i in range(max(start, 0), len(stroke)):
        if i == 0:
            cv.circle(canvas, stroke[0], BRUSH_RADIUS, INK, -1)
        else:
            cv.line(canvas, stroke[i - 1], stroke[i], INK, 2 * BRUSH_RADIUS + 1)
    _restore_boxes(canvas)


def _restore_boxes(canvas: np.ndarray) -> None:
    # The boxes are the printed form, not paper: ink must not erase them, or a stroke across a
    # shared side would join two boxes into one and recognize() would read four digits.
    blank = blank_canvas()
    printed = np.any(blank != 255, axis=2)
    canvas[printed] = blank[printed]


def render_strokes(strokes: list[Stroke]) -> np.ndarray:
    """The clean canvas (boxes and ink, no result text) for these strokes."""
    canvas = blank_canvas()
    for stroke in strokes:
        draw_stroke(canvas, stroke)
    return canvas


def draw_result(canvas: np.ndarray, result: Result | None) -> np.ndarray:
    """A display copy of `canvas` with the result (or, before one, a hint) written on it."""
    shown = canvas.copy()
    if result is None:
        cv.putText(shown, "draw a digit in each box, then press r", (10, 32), FONT, 0.55, HINT_COLOUR, 1, cv.LINE_AA)
        return shown
    cv.putText(shown, f"zip {result.zip}", (10, 34), FONT, 0.8, INK, 2, cv.LINE_AA)
    cv.putText(shown, f"{result.ms:.1f} ms", (440, 34), FONT, 0.5, HINT_COLOUR, 1, cv.LINE_AA)
    for digit, region in zip(result.digits, result.regions):
        _draw_digit(shown, digit, region.x + region.w // 2)
    return shown


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
        self.canvas = blank_canvas()   # kept in step with strokes, so a mouse move draws one segment
        self.pen_is_down = False

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
        self.result = None   # a result no longer describes an edited drawing

    def recognize(self, classifier: Classifier) -> Result:
        self.result = recognize(self.canvas, classifier, "boxed")
        return self.result

    def display(self) -> np.ndarray:
        return draw_result(self.canvas, self.result)


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
    raise NoWindow(f"no display for the GUI window ({problem}); use `python -m device recognize IMAGE` or "
                   "`python -m device camera --source VIDEO_OR_FOLDER --no-window`")


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


def run_gui(classifier: Classifier, save_path: os.PathLike) -> None:
    """Open the drawing window and serve it until q, Esc, Ctrl-C or the window is closed."""
    drawing = Drawing()
    try:
        cv.namedWindow(WINDOW, cv.WINDOW_AUTOSIZE | cv.WINDOW_GUI_NORMAL)  # GUI_NORMAL: no Qt toolbar
    except cv.error:  # an OpenCV built without a GUI backend (opencv-python-headless)
        raise NoWindow("this OpenCV has no window support (headless build): install opencv-python, "
                       "or use `python -m device recognize IMAGE`") from None
    cv.setMouseCallback(WINDOW, _on_mouse, drawing)
    print(KEY_HELP, flush=True)
    try:
        _serve(drawing, classifier, save_path)
    except KeyboardInterrupt:
        pass
    finally:
        cv.destroyAllWindows()
        cv.waitKey(1)  # lets the GUI backend actually take the windows down


def _serve(drawing: Drawing, classifier: Classifier, save_path: os.PathLike) -> None:
    while True:
        cv.imshow(WINDOW, drawing.display())
        key = cv.waitKey(FRAME_MS)
        # Checked after waitKey, which is when the backend learns the window was closed; the
        # book's loop spun forever (and imshow would reopen the window) instead.
        if not _window_open(WINDOW) or _is_quit(key):
            return
        _on_key(key, drawing, classifier, save_path)


def _window_open(name: str) -> bool:
    try:
        return cv.getWindowProperty(name, cv.WND_PROP_VISIBLE) >= 1
    except cv.error:  # some backends raise for a window that no longer exists
        return False


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


def _on_key(key: int, drawing: Drawing, classifier: Classifier, save_path: os.PathLike) -> None:
    action = _char(key)
    if action == "e":
        drawing.erase()
    elif action == "u":
        drawing.undo()
    elif action == "r":
        _announce(drawing.recognize(classifier))
    elif action == "s":
        _show_inputs((drawing.result or drawing.recognize(classifier)).numerals)
    elif action == "w":
        _write_canvas(drawing.canvas, save_path)


def _show_inputs(numerals: list[np.ndarray | None]) -> None:
    opening = not _window_open(INPUTS_WINDOW)
    cv.namedWindow(INPUTS_WINDOW, cv.WINDOW_AUTOSIZE | cv.WINDOW_GUI_NORMAL)
    cv.imshow(INPUTS_WINDOW, inputs_panel(numerals))
    if opening:  # below the drawing rather than over it; later the user may move it anywhere
        x, y, _, height = cv.getWindowImageRect(WINDOW)
        cv.moveWindow(INPUTS_WINDOW, x, y + height + INPUTS_WINDOW_DROP)


def _announce(result: Result) -> None:
    print("\a", end="", flush=True)  # the book's winsound.Beep, on any terminal
    print(f"zip {result.zip}  (confidence {result.confidence_text}, {result.ms:.2f} ms)", flush=True)


def _write_canvas(canvas: np.ndarray, save_path: os.PathLike) -> None:
    ok, png = cv.imencode(".png", canvas)
    if not ok:
        raise RuntimeError("OpenCV could not encode the canvas as PNG")
    try:
        write_bytes(save_path, png.tobytes())
    except OSError as error:  # a bad --save path must not close the window and lose the drawing
        print(f"could not write {save_path}: {error.strerror or error}", file=sys.stderr, flush=True)
        return
    height, width = canvas.shape[:2]
    print(f"wrote {save_path} ({width}x{height} PNG, {len(png)} bytes); "
          f"read it with: python -m device recognize {save_path}", flush=True)
