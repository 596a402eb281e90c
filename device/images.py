"""Read a page image safely: regular files only, bounded memory, EXIF orientation, one clear error.

Every format OpenCV decodes here is known by its first bytes, and its header says how much
memory decoding takes before any pixel is decoded; a format this module cannot measure is not
read. Pixels are decoded as they are stored (IMREAD_UNCHANGED keeps alpha, which the other
flags drop), so the EXIF orientation OpenCV applies only under its other flags is applied here
(OpenCV turns TIFF pages itself under every flag).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device import MAX_PIXELS  # also OpenCV's own ceiling, set in device/__init__.py before cv2 loads
from device.base.files import UnreadableFile, read_regular_file
from device.numeral import to_bgr8, value_scale

# What decoding may hold at once: an 8-bit BGR page at the pixel limit. Decoded pixels and the BGR
# page made from them are held together for a moment, beside the file's bytes: at 4 bytes a pixel
# (40 MP of 8-bit BGRA) a process peaked at 394 MB, at 3 bytes under 330 MB.
MAX_DECODED_BYTES = 3 * MAX_PIXELS
# The file's bytes are held while it is decoded: a 120 MB uncompressed page peaked at 427 MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".dib",
    ".tif",
    ".tiff",
    ".webp",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pnm",
    ".pam",
    ".pfm",
    ".hdr",
    ".pic",
    ".jp2",
    ".j2k",
    ".sr",
    ".ras",
)
FORMATS = "PNG, JPEG, TIFF, WebP, BMP, PNM/PAM, PFM, Radiance HDR, JPEG 2000 or Sun raster"


class ImageError(Exception):
    """The file cannot be used as a page image. The message says why, without the file name."""


@dataclass(frozen=True)
class Header:
    """What a file's header says, before any pixel is decoded."""

    kind: str
    width: int
    height: int
    decoded_bytes: int  # the pixels as decoded, with any page-sized buffer the decoder holds besides
    orientation: int = 1  # EXIF orientation (1-8) still to apply after IMREAD_UNCHANGED


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at `path` as BGR uint8, upright by its EXIF orientation, transparent areas on white paper.

    Raises:
        ImageError: not a regular readable file, not an image, truncated, or too large to hold.
    """
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except UnreadableFile as error:
        raise ImageError(str(error)) from None
    if not data:
        raise ImageError("empty file (0 bytes)")
    header = read_header(data)
    _refuse_huge(header)
    image = _decode(data, header)
    del data  # the file's bytes need not outlive decoding
    if value_scale(image) is None:
        raise ImageError(
            f"{image.dtype} pixels neither in [0, 1] nor in [0, 255] (by the paper's value, not "
            "the brightest pixel); save the page as 8-bit"
        )
    try:
        page = to_bgr8(image)
    except ValueError as error:  # a shape no page has (5 channels...)
        raise ImageError(str(error)) from None
    del image
    return upright(page, header.orientation)


def _decode(data: bytes, header: Header) -> np.ndarray:
    try:
        image = cv.imdecode(np.frombuffer(data, np.uint8), cv.IMREAD_UNCHANGED)
    except cv.error:
        raise ImageError(f"a damaged {header.kind}, or one OpenCV cannot decode") from None
    if image is None or image.size == 0:
        raise ImageError(f"a damaged or truncated {header.kind} (OpenCV cannot decode it)")
    return image


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """`image` as EXIF orientation `orientation` says to show it (1: as stored; 2-8: flipped, turned)."""
    if orientation == 2:
        return cv.flip(image, 1)
    if orientation == 3:
        return cv.rotate(image, cv.ROTATE_180)
    if orientation == 4:
        return cv.flip(image, 0)
    if orientation == 5:
        return cv.transpose(image)
    if orientation == 6:
        return cv.rotate(image, cv.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv.rotate(cv.transpose(image), cv.ROTATE_180)
    if orientation == 8:
        return cv.rotate(image, cv.ROTATE_90_COUNTERCLOCKWISE)
    return image


def _refuse_huge(header: Header) -> None:
    width, height = header.width, header.height
    if width * height > MAX_PIXELS:
        raise ImageError(f"{width}x{height} pixels is over the {MAX_PIXELS // 1_000_000} MP limit; scale it down")
    if header.decoded_bytes > MAX_DECODED_BYTES:  # 16-bit, float and alpha pages take 2-16 bytes a pixel
        raise ImageError(
            f"{width}x{height} {header.kind} at {header.decoded_bytes / (width * height):.3g} bytes a pixel "
            f"takes {header.decoded_bytes // 1_000_000} MB to decode, over {MAX_DECODED_BYTES // 1_000_000} MB; "
            "save it as 8-bit, or scale it down"
        )


# ---- headers: size and orientation from the first bytes ------------------------------------------


def read_header(data: bytes) -> Header:
    """The header of a page image in any format this module reads.

    Raises:
        ImageError: another format, or a header too damaged to measure (no width or height above 0).
    """
    for magics, kind, reader in _READERS:
        if data.startswith(magics):
            try:
                header = reader(data)
            except (struct.error, IndexError, KeyError, ValueError):
                raise ImageError(f"a damaged or truncated {kind} header") from None
            if header.width <= 0 or header.height <= 0:
                raise ImageError(f"a damaged {kind} header ({header.width}x{header.height} pixels)")
            return header
    if data.startswith(b"\x76\x2f\x31\x01"):
        raise ImageError("OpenEXR is not read here; save the page as PNG or TIFF")
    raise ImageError(f"not an image this reads ({FORMATS})")


def _png(data: bytes) -> Header:
    if data[12:16] != b"IHDR":
        raise ValueError("no IHDR")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", data[16:26])
    channels = 1 if colour_type == 0 else 3 if colour_type == 2 else 4  # grey+alpha and palettes decode to BGRA
    return Header(
        "PNG",
        width,
        height,
        width * height * channels * (2 if bit_depth == 16 else 1),
        _exif_orientation(_png_exif(data)),
    )


def _png_exif(data: bytes) -> bytes | None:
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"eXIf":
            return data[offset + 8 : offset + 8 + length]
        if kind in (b"IDAT", b"IEND"):
            return None
        offset += 12 + length
    return None


def _jpeg(data: bytes) -> Header:
    offset, size, exif = 2, None, None
    while offset + 4 <= len(data) and size is None:
        if data[offset] != 0xFF:
            raise ValueError("not a marker")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        segment = data[offset + 4 : offset + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00") and exif is None:
            exif = segment[6:]
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width, components = struct.unpack(">HHB", segment[1:6])
            size = (width, height, components)
        elif marker == 0xDA:  # scan data before any frame header
            break
        offset += 2 + length
    if size is None:
        raise ValueError("no frame header")
    width, height, components = size
    return Header("JPEG", width, height, width * height * max(components, 1), _exif_orientation(exif))


def _webp(data: bytes) -> Header:
    if data[8:12] != b"WEBP":
        raise ValueError("RIFF, not WebP")
    offset, size, exif = 12, None, None
    while offset + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"VP8X":
            size = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
        elif kind == b"VP8 " and size is None:
            width, height = struct.unpack("<HH", body[6:10])
            size = (width & 0x3FFF, height & 0x3FFF)
        elif kind == b"VP8L" and size is None:
            bits = int.from_bytes(body[1:5], "little")
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"EXIF":
            exif = body[6:] if body.startswith(b"Exif\x00\x00") else body
        offset += 8 + length + (length & 1)
    if size is None:
        raise ValueError("no image chunk")
    # libwebp decodes into the BGR(A) page itself: no second buffer.
    return Header("WebP", size[0], size[1], size[0] * size[1] * 4, _exif_orientation(exif))


def _tiff(data: bytes) -> Header:
    tags = _tiff_tags(data)
    width, height = tags.get(256, 0), tags.get(257, 0)
    samples, bits = tags.get(277, 1), tags.get(258, 1)
    pixel = samples * max(1, (bits + 7) // 8)
    # OpenCV reads a strip or tile at a time into a buffer of its own (32-bit RGBA for 8-bit pages),
    # and a page stored as one strip makes that buffer page-sized.
    block = tags[322] * tags[323] if 322 in tags and 323 in tags else width * min(tags.get(278, height), height)
    # OpenCV applies a TIFF's orientation tag itself, under every flag.
    return Header("TIFF", width, height, width * height * pixel + block * max(4, pixel))


def _tiff_tags(data: bytes) -> dict[int, int]:
    """IFD0's single-valued numeric tags of a classic or BigTIFF file."""
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack(order + "H", data[2:4])[0] == 43
    # Entry counts, value counts and offsets: 2, 4 and 4 bytes in a classic TIFF, 8 each in a BigTIFF.
    count_format, value_count_format, offset_format, entry_size = ("Q", "Q", "Q", 20) if big else ("H", "I", "I", 12)
    offset = struct.unpack(order + offset_format, data[8:16] if big else data[4:8])[0]
    count = struct.unpack(order + count_format, data[offset : offset + struct.calcsize(count_format)])[0]
    start = offset + struct.calcsize(count_format)
    value_formats = {1: "B", 3: "H", 4: "I", 16: "Q"}  # BYTE, SHORT, LONG, LONG8
    tags = {}
    for k in range(min(count, 4096)):
        entry = data[start + k * entry_size : start + (k + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if kind not in value_formats:
            continue
        values = struct.unpack(order + value_count_format, entry[4 : 12 if big else 8])[0]
        field = entry[12:20] if big else entry[8:12]
        value_format = order + value_formats[kind]
        if values * struct.calcsize(value_format) > len(field):  # stored elsewhere: the field is its offset
            at = struct.unpack(order + offset_format, field)[0]
            field = data[at : at + struct.calcsize(value_format)]
        tags[tag] = struct.unpack(value_format, field[: struct.calcsize(value_format)])[0]  # the first value
    return tags


def _bmp(data: bytes) -> Header:
    if struct.unpack("<I", data[14:18])[0] == 12:  # the old OS/2 header: 16-bit sizes
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", data[18:30])
    return Header("BMP", width, abs(height), width * abs(height) * (4 if bits == 32 else 3))


_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n)*(\S+)")


def _pnm(data: bytes) -> Header:
    kind = data[1:2]
    if kind == b"7":
        return _pam(data)
    tokens, offset = [], 2
    while len(tokens) < (2 if kind in b"14" else 3):
        match = _PNM_TOKEN.match(data, offset, offset + 1024)
        if match is None:
            raise ValueError("no size")
        tokens.append(int(match.group(1)))
        offset = match.end()
    width, height = tokens[:2]
    channels = 3 if kind in b"36" else 1
    sample = 2 if len(tokens) == 3 and tokens[2] > 255 else 1
    return Header("PNM", width, height, width * height * channels * sample)


def _pam(data: bytes) -> Header:
    fields = dict(re.findall(rb"^(WIDTH|HEIGHT|DEPTH|MAXVAL)\s+(\d+)", data[:4096], re.MULTILINE))
    width, height, depth = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]), int(fields[b"DEPTH"])
    sample = 2 if int(fields[b"MAXVAL"]) > 255 else 1
    return Header("PAM", width, height, width * height * depth * sample)


def _pfm(data: bytes) -> Header:
    width, height = (int(token) for token in data[2:256].split()[:2])
    channels = 3 if data[1:2] == b"F" else 1
    return Header("PFM", width, height, width * height * channels * 4 * 2)  # read as float, then flipped


def _hdr(data: bytes) -> Header:
    end = data.find(b"\n\n", 0, 65536)
    line = data[end + 2 : data.find(b"\n", end + 2, end + 256)].split()
    sizes = {line[0][1:2]: int(line[1]), line[2][1:2]: int(line[3])}  # e.g. -Y 1200 +X 1600
    width, height = sizes[b"X"], sizes[b"Y"]
    return Header("Radiance HDR", width, height, width * height * 3 * 4 * 2)  # float BGR, read, then copied


def _jp2(data: bytes) -> Header:
    # The codestream's SIZ segment, which OpenJPEG decodes by (a JP2 file's ihdr box could say otherwise).
    siz = data.index(b"\xff\x4f\xff\x51")
    x, y, x0, y0 = struct.unpack(">IIII", data[siz + 8 : siz + 24])
    components = struct.unpack(">H", data[siz + 40 : siz + 42])[0]
    width, height = x - x0, y - y0
    precision = max((byte & 0x7F) + 1 for byte in data[siz + 42 : siz + 42 + 3 * components : 3])
    # OpenJPEG holds every sample as a 32-bit integer, beside the decoded page.
    per_sample = 4 + (2 if precision > 8 else 1)
    return Header("JPEG 2000", width, height, width * height * components * per_sample)


def _sun_raster(data: bytes) -> Header:
    width, height = struct.unpack(">II", data[4:12])
    return Header("Sun raster", width, height, width * height * 4)


_READERS = (
    ((b"\x89PNG\r\n\x1a\n",), "PNG", _png),
    ((b"\xff\xd8",), "JPEG", _jpeg),
    ((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), "TIFF", _tiff),
    ((b"RIFF",), "WebP", _webp),
    ((b"BM",), "BMP", _bmp),
    ((b"PF", b"Pf"), "PFM", _pfm),
    ((b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7"), "PNM", _pnm),
    ((b"#?RADIANCE", b"#?RGBE"), "Radiance HDR", _hdr),
    ((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"), "JPEG 2000", _jp2),
    ((b"\x59\xa6\x6a\x95",), "Sun raster", _sun_raster),
)


def _exif_orientation(exif: bytes | None) -> int:
    """The Orientation tag (0x0112) of IFD0 of an EXIF block (a TIFF structure); 1 without one."""
    if not exif or exif[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if exif[:2] == b"II" else ">"
    try:
        offset = struct.unpack(order + "I", exif[4:8])[0]
        count = struct.unpack(order + "H", exif[offset : offset + 2])[0]
        for k in range(min(count, 1024)):
            entry = exif[offset + 2 + 12 * k : offset + 14 + 12 * k]
            tag, kind = struct.unpack(order + "HH", entry[:4])
            if tag == 0x0112 and kind == 3:
                value = struct.unpack(order + "H", entry[8:10])[0]
                return value if 1 <= value <= 8 else 1
    except struct.error:
        pass
    return 1
