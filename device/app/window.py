"""Whether one of OpenCV's windows is still on the screen, whichever way it went away.

OpenCV answers for the ways it sees: `q`, a window manager's close button (WM_DELETE_WINDOW).
When the X window is destroyed from outside (`xdotool windowclose`, some desktops' close),
OpenCV's Qt backend keeps reporting it visible, and a loop that trusts it spins with no window
until Ctrl-C. So on X the window's existence is also asked of the X server itself, through
libxcb, whose failed requests come back as values instead of Xlib's process-wide error handler.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

import cv2 as cv

LOOKUP_SECONDS = 0.5  # how often to look again for a window not yet found (Qt maps it a few frames late)


class Window:
    """An OpenCV window by its title; `is_open()` is False once it is closed or destroyed."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._x = _XServer.connect() if os.environ.get("DISPLAY") else None
        self._x_id: int | None = None
        self._next_lookup = 0.0

    def is_open(self) -> bool:
        try:
            if cv.getWindowProperty(self.title, cv.WND_PROP_VISIBLE) < 1:
                return False
        except cv.error:  # some backends raise for a window that no longer exists
            return False
        return self._x_window_exists()

    def _x_window_exists(self) -> bool:
        if self._x is None:
            return True  # no X server to ask: OpenCV's answer is all there is
        if self._x_id is None:
            if time.monotonic() < self._next_lookup:
                return True
            self._x_id = self._x.find_window(self.title, os.getpid())
            self._next_lookup = time.monotonic() + LOOKUP_SECONDS
            return True
        return self._x.exists(self._x_id)

    def close(self) -> None:
        if self._x is not None:
            self._x.disconnect()
            self._x = None


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class _AtomReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("atom", ctypes.c_uint32),
    ]


class _XServer:
    """A connection of our own to the X server, asked only what it can answer without an error handler."""

    def __init__(self, xcb: ctypes.CDLL, libc: ctypes.CDLL, connection: int) -> None:
        self._xcb, self._libc, self._connection = xcb, libc, connection
        iterator = xcb.xcb_setup_roots_iterator(xcb.xcb_get_setup(connection))
        self._root = ctypes.c_uint32.from_address(iterator.data).value  # xcb_screen_t starts with root
        self._atoms = {name: self._atom(name) for name in (b"_NET_WM_PID", b"_NET_WM_NAME", b"WM_NAME")}

    @classmethod
    def connect(cls) -> _XServer | None:
        """A connection to $DISPLAY, or None where libxcb is missing or the server does not answer."""
        try:
            xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
        except OSError:
            return None
        _declare(xcb, libc)
        connection = xcb.xcb_connect(None, None)
        if not connection or xcb.xcb_connection_has_error(connection):
            return None
        return cls(xcb, libc, connection)

    def disconnect(self) -> None:
        self._xcb.xcb_disconnect(self._connection)

    def exists(self, window: int) -> bool:
        reply = self._reply("xcb_get_window_attributes", window)
        if reply:
            self._libc.free(reply)
        return bool(reply)

    def _reply(self, request: str, *args) -> int | None:
        """The reply to one request, or None when the server answered with an error (freed here).

        Passing an error pointer keeps errors out of the connection's event queue, which nobody reads.
        """
        cookie = getattr(self._xcb, request)(self._connection, *args)
        error = ctypes.c_void_p()
        reply = getattr(self._xcb, f"{request}_reply")(self._connection, cookie, ctypes.byref(error))
        if error.value:
            self._libc.free(error)
        return reply or None

    def find_window(self, title: str, pid: int) -> int | None:
        """The window titled `title` that process `pid` owns, searched from the root down."""
        wanted = title.encode()
        pending = [self._root]
        while pending:
            window = pending.pop()
            if self._property(window, b"_NET_WM_PID") == pid.to_bytes(4, "little") and wanted in (
                self._property(window, b"_NET_WM_NAME"),
                self._property(window, b"WM_NAME"),
            ):
                return window
            pending += self._children(window)
        return None

    def _atom(self, name: bytes) -> int:
        reply = self._reply("xcb_intern_atom", 0, len(name), name)
        if not reply:
            return 0
        atom = reply.contents.atom
        self._libc.free(reply)
        return atom

    def _children(self, window: int) -> list[int]:
        reply = self._reply("xcb_query_tree", window)
        if not reply:  # gone since its parent listed it
            return []
        count = self._xcb.xcb_query_tree_children_length(reply)
        children = list(self._xcb.xcb_query_tree_children(reply)[:count])
        self._libc.free(reply)
        return children

    def _property(self, window: int, name: bytes) -> bytes | None:
        reply = self._reply("xcb_get_property", 0, window, self._atoms[name], 0, 0, 256)
        if not reply:
            return None
        value = ctypes.string_at(
            self._xcb.xcb_get_property_value(reply), self._xcb.xcb_get_property_value_length(reply)
        )
        self._libc.free(reply)
        return value


def _declare(xcb: ctypes.CDLL, libc: ctypes.CDLL) -> None:
    """The C signatures of the few libxcb calls used (ctypes would otherwise pass 64-bit pointers as int)."""
    u8, u16, u32, ptr = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_void_p
    signatures = {
        "xcb_connect": (ptr, [ctypes.c_char_p, ptr]),
        "xcb_connection_has_error": (ctypes.c_int, [ptr]),
        "xcb_disconnect": (None, [ptr]),
        "xcb_get_setup": (ptr, [ptr]),
        "xcb_setup_roots_iterator": (_ScreenIterator, [ptr]),
        "xcb_intern_atom": (_Cookie, [ptr, u8, u16, ctypes.c_char_p]),
        "xcb_intern_atom_reply": (ctypes.POINTER(_AtomReply), [ptr, _Cookie, ptr]),
        "xcb_get_window_attributes": (_Cookie, [ptr, u32]),
        "xcb_get_window_attributes_reply": (ptr, [ptr, _Cookie, ptr]),
        "xcb_query_tree": (_Cookie, [ptr, u32]),
        "xcb_query_tree_reply": (ptr, [ptr, _Cookie, ptr]),
        "xcb_query_tree_children": (ctypes.POINTER(u32), [ptr]),
        "xcb_query_tree_children_length": (ctypes.c_int, [ptr]),
        "xcb_get_property": (_Cookie, [ptr, u8, u32, u32, u32, u32, u32]),
        "xcb_get_property_reply": (ptr, [ptr, _Cookie, ptr]),
        "xcb_get_property_value": (ptr, [ptr]),
        "xcb_get_property_value_length": (ctypes.c_int, [ptr]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(xcb, name)
        function.restype, function.argtypes = restype, argtypes
    libc.free.restype, libc.free.argtypes = None, [ptr]
