"""Read a page image safely: bounded memory, any depth or channel count, one clear error."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2 as cv
import numpy as np

from device import MAX_PIXELS  # also OpenCV's own ceiling, set in device/__init__.py before cv2 loads
from device.numeral import to_bgr8


MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_DECODED_BYTES = 4 * MAX_PIXELS  # an 8-bit BGRA page at the pixel limit
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class ImageError(Exception):
    """The file cannot be used as a page image. The message says why, without the file name."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at `path` as BGR uint8, transparent areas on white paper.

    Raises:
        ImageError: unreadable, not an image, truncated, or too many pixels to hold.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{size} bytes is larger than any page image we read")
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise ImageError("is a directory, not an image") from None
    except OSError as error:
        raise ImageError(error.strerror or str(error)) from None
    if not data:
        raise ImageError("empty file (0 bytes)")
    _refuse_huge(header_size(data))
    try:
        image = cv.imdecode(np.frombuffer(data, np.uint8), cv.IMREAD_UNCHANGED)
    except cv.error:  # OpenCV refuses formats we do not pre-check (TIFF, BMP...) above its pixel ceiling
        raise ImageError(f"over the {MAX_PIXELS // 1_000_000} MP limit, or not an image OpenCV can decode") from None
    if image is None or image.size == 0:
        raise ImageError("not an image OpenCV can decode (or truncated)")
    return to_bgr8(image)


def header_size(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, decoded bytes per pixel) from a PNG or JPEG header, without decoding pixels.

    Written by hand because OpenCV has no header-only read and decoding is what must be
    avoided: a 20000 x 20000 PNG is a few hundred KB on disk and 1.2 GB in memory.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 26 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        bit_depth, colour_type = data[24], data[25]
        channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour_type, 4)  # palettes decode to BGR
        return width, height, channels * (2 if bit_depth == 16 else 1)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        length = struct.unpack(">H", data[offset + 2: offset + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5: offset + 9])
            return width, height, data[offset + 9]  # components, one byte each
        offset += 2 + length
    return None


def _refuse_huge(size: tuple[int, int, int] | None) -> None:
    if not size:
        return
    width, height, depth = size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{width}x{height} pixels is over the {MAX_PIXELS // 1_000_000} MP limit; scale it down")
    if width * height * depth > MAX_DECODED_BYTES:  # 16-bit and alpha pages are 2-8 bytes a pixel
        raise ImageError(f"{width}x{height} at {depth} bytes a pixel is over {MAX_DECODED_BYTES // 1_000_000} MB "
                         "decoded; save it as 8-bit, or scale it down")
