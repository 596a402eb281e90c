"""Bad pages: each gets a per-file error or a blank reading, the batch goes on, memory stays bounded.

Every kind of bad page goes through one `recognize --json` run (the `outcome` fixture), so the
class costs one process: sideways phone photos (EXIF orientation), float pages, paths that are
not files (FIFOs, devices, link loops), small files that decode huge, and pages of dots.
"""

import json
import os
import pathlib
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import zlib

import cv2 as cv
import numpy as np
import pytest

from device.images import MAX_DECODED_BYTES, ImageError, read_header, read_image, upright
from device.layout import Rect, _gaps, _join_closest, _union
from helpers import ROOT, one_clean_line, run

GOOD = "device/samples/boxed_1.png"
PHOTO = "device/samples/photo_4.png"  # reads 54019


def _chunk(kind, data):
    """A PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _streamed_png(path, width, height, bit_depth, colour_type, row):
    """A real PNG of `height` copies of `row` (filter byte included), compressed without holding the image."""
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def _exif(orientation):
    """An EXIF block (a little-endian TIFF structure) holding only the Orientation tag."""
    return (
        b"II*\x00"
        + struct.pack("<IH", 8, 1)
        + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack("<I", 0)
    )


def _with_exif(kind, image, orientation):
    """`image` encoded as `kind` (jpg, png, webp) with an EXIF orientation, as phones write it."""
    data = cv.imencode(f".{kind}", image, [cv.IMWRITE_WEBP_QUALITY, 101] if kind == "webp" else [])[1].tobytes()
    if kind == "jpg":  # an APP1 segment after the start of image
        segment = b"Exif\x00\x00" + _exif(orientation)
        return data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]
    if kind == "png":  # an eXIf chunk after IHDR
        return data[:33] + _chunk(b"eXIf", _exif(orientation)) + data[33:]
    # WebP: the extended format (VP8X, EXIF flag set) around the simple one's image chunk, then EXIF
    height, width = image.shape[:2]
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + bytes([0x08, 0, 0, 0])
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    exif = _exif(orientation)
    body = b"WEBP" + vp8x + data[12:] + b"EXIF" + struct.pack("<I", len(exif)) + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tiff(image, orientation=1):
    """An uncompressed one-strip TIFF of a BGR uint8, uint16 or float32 image, with an Orientation tag."""
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    height, width, channels = rgb.shape
    pixels = rgb.tobytes()
    sample_format = 3 if rgb.dtype.kind == "f" else 1
    entries = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, rgb.dtype.itemsize * 8),
        (259, 3, 1),
        (262, 3, 2),
        (273, 4, 0),
        (274, 3, orientation),
        (277, 3, channels),
        (278, 4, height),
        (279, 4, len(pixels)),
        (339, 3, sample_format),
    ]
    start = 8 + 2 + 12 * len(entries) + 4
    ifd = b"".join(
        struct.pack("<HHI", tag, kind, 1)
        + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", start if tag == 273 else value))
        for tag, kind, value in entries
    )
    return b"II*\x00" + struct.pack("<IH", 8, len(entries)) + ifd + struct.pack("<I", 0) + pixels


# How each EXIF orientation stores an upright page: the inverse of what the tag says to do.
STORED_AS = {
    1: lambda a: a,
    2: lambda a: cv.flip(a, 1),
    3: lambda a: cv.rotate(a, cv.ROTATE_180),
    4: lambda a: cv.flip(a, 0),
    5: cv.transpose,
    6: lambda a: cv.rotate(a, cv.ROTATE_90_COUNTERCLOCKWISE),
    7: lambda a: cv.transpose(cv.rotate(a, cv.ROTATE_180)),
    8: lambda a: cv.rotate(a, cv.ROTATE_90_CLOCKWISE),
}


def _header_bombs():
    """{name: bytes}: a header of every format read, declaring more than decoding may hold (no pixels follow)."""
    side = 6000  # 36 MP: under the pixel limit, over the decoded one at 4 bytes a pixel or more
    assert side * side * 4 > MAX_DECODED_BYTES
    tiff_tags = [(256, 4, side), (257, 4, side), (258, 3, 16), (277, 3, 4), (339, 3, 1)]
    tiff = (
        b"II*\x00"
        + struct.pack("<IH", 8, len(tiff_tags))
        + b"".join(
            struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", v, 0) if kind == 3 else struct.pack("<I", v))
            for tag, kind, v in tiff_tags
        )
        + struct.pack("<I", 0)
    )
    return {
        "grey_alpha16.png": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 4, 0, 0, 0)),
        "rgba16.tif": tiff,
        "page.hdr": b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (side, side) + bytes(64),
        "page.pfm": b"PF\n%d %d\n-1.0\n" % (side, side) + bytes(64),
        "deep.ppm": b"P6\n# a comment\n%d %d\n65535\n" % (side, side) + bytes(64),
        "deep.pam": b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" % (side, side),
        "page.j2k": b"\xff\x4f\xff\x51"
        + struct.pack(">HHIIIIIIIIH", 47, 0, side, side, 0, 0, side, side, 0, 0, 3)
        + bytes([7, 1, 1]) * 3,
        "cmyk.jpg": b"\xff\xd8\xff\xc0" + struct.pack(">HBHHB", 20, 8, side, side, 4) + bytes(12) + b"\xff\xd9",
        "huge.webp": b"RIFF"
        + struct.pack("<I", 22)
        + b"WEBPVP8X"
        + struct.pack("<I", 10)
        + bytes(4)
        + (16383).to_bytes(3, "little") * 2,
        "huge.bmp": b"BM" + bytes(16) + struct.pack("<iiHH", 8000, -8000, 1, 32) + bytes(24),
        "huge.ras": b"\x59\xa6\x6a\x95" + struct.pack(">III", 9000, 9000, 24) + bytes(20),
    }


def _dot_page(path, shape, pitch):
    """A page of 2x2 dots every `pitch` pixels: no handwriting, and a piece of ink per dot."""
    page = np.full(shape, 255, np.uint8)
    for dy in (0, 1):
        for dx in (0, 1):
            page[dy::pitch, dx::pitch] = 0
    cv.imwrite(str(path), page)


def _png_bomb(path, side=20000):
    """A real 20000x20000 grey PNG that compresses to a few hundred KB, written without allocating it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bad_pages(tmp_path_factory):
    """{name: (path, expectation)}: 'error' for a per-file error, 'blank' for '?????', 'read' for a zip."""
    folder = tmp_path_factory.mktemp("bad")
    canvas = cv.imread(str(ROOT / GOOD))
    pages = {}

    def add(name, expectation, write):
        path = folder / name
        write(path)
        pages[name] = (path, expectation)

    add("empty.png", "error", lambda p: p.write_bytes(b""))
    add("text.png", "error", lambda p: p.write_text("this is not an image\n"))
    add("truncated.png", "error", lambda p: p.write_bytes((ROOT / GOOD).read_bytes()[:300]))
    add("bomb.png", "error", _png_bomb)
    add("directory.png", "error", lambda p: p.mkdir())
    add("tiny.png", "blank", lambda p: cv.imwrite(str(p), np.full((3, 3), 255, np.uint8)))
    add("one_pixel.png", "blank", lambda p: cv.imwrite(str(p), np.zeros((1, 1), np.uint8)))
    add("all_black.png", "blank", lambda p: cv.imwrite(str(p), np.zeros((200, 520, 3), np.uint8)))
    add("all_white.png", "blank", lambda p: cv.imwrite(str(p), np.full((200, 520, 3), 255, np.uint8)))
    add("grey.png", "read", lambda p: cv.imwrite(str(p), cv.cvtColor(canvas, cv.COLOR_BGR2GRAY)))
    add("rgba.png", "read", lambda p: cv.imwrite(str(p), cv.cvtColor(canvas, cv.COLOR_BGR2BGRA)))
    add("deep16.png", "read", lambda p: cv.imwrite(str(p), canvas.astype(np.uint16) * 257))
    add("wrong_size.png", "read", lambda p: cv.imwrite(str(p), cv.resize(canvas, (780, 300))))
    add("photo.jpg", "read", lambda p: cv.imwrite(str(p), canvas, [cv.IMWRITE_JPEG_QUALITY, 60]))
    # Under the pixel limit, but 16-bit RGBA: 8 bytes a pixel, 240 MB decoded. Mostly one colour, so small on disk.
    add("deep_rgba.png", "error", lambda p: cv.imwrite(str(p), np.full((5000, 6000, 4), 65535, np.uint16)))
    add("bomb.tif", "error", lambda p: cv.imwrite(str(p), np.zeros((7000, 7000), np.uint8)))

    # A phone photo stored sideways, its EXIF saying how to turn it (6: a quarter turn clockwise).
    photo = cv.imread(str(ROOT / PHOTO))
    for kind in ("jpg", "png", "webp"):
        add(f"sideways.{kind}", "photo", lambda p, k=kind: p.write_bytes(_with_exif(k, STORED_AS[6](photo), 6)))
    add("sideways.tif", "photo", lambda p: p.write_bytes(_tiff(STORED_AS[6](photo), 6)))
    # Float pages: [0, 1] with one stray pixel above 1, OpenCV's own float TIFF, and [0, 255].
    stray = photo.astype(np.float32) / 255
    stray[0, 0] = 1.0001
    add("stray.pfm", "photo", lambda p: cv.imwrite(str(p), stray))
    add("stray.tif", "photo", lambda p: p.write_bytes(_tiff(stray)))
    add("opencv_float.tif", "photo", lambda p: cv.imwrite(str(p), photo.astype(np.float32) / 255))
    add("float255.tif", "photo", lambda p: p.write_bytes(_tiff(photo.astype(np.float32))))
    add("float_unclear.pfm", "error", lambda p: cv.imwrite(str(p), photo.astype(np.float32) / 25))
    # Paths that are not files: reading them blocks (a FIFO) or never ends (/dev/zero).
    add("fifo.png", "error", os.mkfifo)
    for device in ("/dev/zero", "/dev/urandom", "/dev/null"):
        add(f"{os.path.basename(device)}.png", "error", lambda p, d=device: p.symlink_to(d))
    add("loop.png", "error", lambda p: p.symlink_to(p))
    add("socket.png", "error", lambda p: socket.socket(socket.AF_UNIX).bind(str(p)))
    add("unknown.gif", "error", lambda p: p.write_bytes(b"GIF89a" + bytes(100)))
    add("page.exr", "error", lambda p: p.write_bytes(b"\x76\x2f\x31\x01" + bytes(100)))
    # Small files that decode huge: headers of every format, and a real 16-bit grey+alpha PNG (320 MB decoded).
    for name, data in _header_bombs().items():
        add(f"header_{name}", "error", lambda p, d=data: p.write_bytes(d))
    add("grey_alpha16.png", "error", lambda p: _streamed_png(p, 6324, 6324, 16, 4, b"\x00" + b"\xff" * (6324 * 4 * 2)))
    # At the decoded limit and read: 30 MP of 8-bit BGRA (120 MB), transparent, so white paper.
    add("rgba_at_limit.png", "blank", lambda p: _streamed_png(p, 6000, 5000, 8, 6, bytes(1 + 6000 * 4)))
    # Pages of dots: one piece of ink each, far more than handwriting has.
    add("dots_strip.png", "blank", lambda p: _dot_page(p, (40, 200_000), 4))
    add("dots_40mp.png", "blank", lambda p: _dot_page(p, (5000, 7900), 4))
    return pages


@pytest.fixture(scope="module")
def outcome(bad_pages):
    """One `recognize --json` over every bad page and one good one, with its peak memory."""
    paths = [str(path) for path, _ in bad_pages.values()] + [GOOD]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "device", "recognize", *paths, "--json"], cwd=ROOT, stdout=out, stderr=err, text=True
        )
        watchdog = threading.Timer(300, child.kill)  # a page that blocks (a FIFO) must not hang the suite
        watchdog.start()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        watchdog.cancel()
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = {json.loads(line)["file"]: json.loads(line) for line in stdout.splitlines()}
    return {
        "code": os.waitstatus_to_exitcode(status),
        "stderr": stderr,
        "lines": lines,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def test_every_page_gets_a_line_and_the_batch_goes_on(bad_pages, outcome):
    assert outcome["code"] == 1 and "Traceback" not in outcome["stderr"]
    assert len(outcome["lines"]) == len(bad_pages) + 1
    assert outcome["lines"][GOOD]["zip"] == json.loads((ROOT / "device/samples/truth.json").read_text())["boxed_1.png"]


@pytest.mark.parametrize(
    "name", ["empty.png", "text.png", "truncated.png", "bomb.png", "directory.png", "deep_rgba.png", "bomb.tif"]
)
def test_unusable_pages_are_per_file_errors(bad_pages, outcome, name):
    line = outcome["lines"][str(bad_pages[name][0])]
    assert set(line) == {"file", "error"} and line["error"]


def test_the_bomb_is_refused_from_its_header(bad_pages, outcome):
    assert "20000x20000" in outcome["lines"][str(bad_pages["bomb.png"][0])]["error"]
    assert outcome["peak_mb"] < 400  # decoding it would take 400 MB for the pixels alone


@pytest.mark.parametrize("name", ["tiny.png", "one_pixel.png", "all_black.png", "all_white.png"])
def test_pages_without_digits_read_as_blank(bad_pages, outcome, name):
    line = outcome["lines"][str(bad_pages[name][0])]
    assert set(line["zip"]) == {"?"}, line


def test_a_grey_canvas_has_no_red_boxes_but_still_gets_a_reading(bad_pages, outcome):
    line = outcome["lines"][str(bad_pages["grey.png"][0])]
    assert line["layout"] == "free" and len(line["zip"]) == 5


@pytest.mark.parametrize("name", ["rgba.png", "deep16.png", "wrong_size.png", "photo.jpg"])
def test_other_depths_channels_and_sizes_read_the_same_zip(bad_pages, outcome, name):
    truth = json.loads((ROOT / "device/samples/truth.json").read_text())["boxed_1.png"]
    line = outcome["lines"][str(bad_pages[name][0])]
    assert line["zip"] == truth, line


def test_deep_pages_are_refused_by_decoded_size_and_other_formats_by_opencvs_ceiling(bad_pages, outcome):
    assert "8 bytes a pixel" in outcome["lines"][str(bad_pages["deep_rgba.png"][0])]["error"]
    assert "limit" in outcome["lines"][str(bad_pages["bomb.tif"][0])]["error"]


def _truth(name):
    return json.loads((ROOT / "device/samples/truth.json").read_text())[name]


def _named(bad_pages, expectation):
    return [name for name, (_, expected) in bad_pages.items() if expected == expectation]


def test_sideways_photos_and_float_pages_read_like_the_upright_page(bad_pages, outcome):
    read = {name: outcome["lines"][str(bad_pages[name][0])].get("zip") for name in _named(bad_pages, "photo")}
    assert read == {name: _truth("photo_4.png") for name in read}


def test_every_unusable_page_is_one_error_line_and_every_blank_one_reads_blank(bad_pages, outcome):
    for name in _named(bad_pages, "error"):
        line = outcome["lines"][str(bad_pages[name][0])]
        assert set(line) == {"file", "error"} and line["error"] and "\n" not in line["error"], (name, line)
    for name in _named(bad_pages, "blank"):
        assert set(outcome["lines"][str(bad_pages[name][0])]["zip"]) == {"?"}, name


@pytest.mark.parametrize(
    "name, words",
    [
        ("fifo.png", "named pipe"),
        ("zero.png", "character device"),
        ("urandom.png", "character device"),
        ("null.png", "character device"),
        ("loop.png", "loop of symbolic links"),
        ("directory.png", "directory"),
        ("socket.png", "is a socket"),
        ("unknown.gif", "not an image this reads"),
        ("page.exr", "OpenEXR"),
        ("float_unclear.pfm", "[0, 1]"),
        ("grey_alpha16.png", "8 bytes a pixel"),
        ("header_huge.webp", "MP limit"),
        ("header_huge.bmp", "MP limit"),
        ("header_huge.ras", "MP limit"),
        *((f"header_{name}", "bytes a pixel") for name in _header_bombs() if not name.startswith("huge")),
    ],
)
def test_each_kind_of_unusable_path_says_what_it_is(bad_pages, outcome, name, words):
    assert words in outcome["lines"][str(bad_pages[name][0])]["error"]


def test_the_whole_run_stays_in_bounds(outcome):
    # Measured, not a timing goal: the run's peak memory is the child's own (ru_maxrss).
    assert outcome["peak_mb"] < 400, outcome["peak_mb"]


@pytest.mark.parametrize("kind", ["jpg", "png", "webp", "tif"])
def test_every_exif_orientation_reads_upright(tmp_path, kind):
    page = cv.imread(str(ROOT / PHOTO))
    for orientation, stored_as in STORED_AS.items():
        stored = np.ascontiguousarray(stored_as(page))
        path = tmp_path / f"o{orientation}.{kind}"
        data = _tiff(stored, orientation) if kind == "tif" else _with_exif(kind, stored, orientation)
        path.write_bytes(data)
        read = read_image(path)
        assert read.shape == page.shape and np.abs(read.astype(int) - page).mean() < 3, orientation
        if kind in ("jpg", "png"):  # the formats OpenCV turns itself under its default flags: the same turn
            assert np.array_equal(read, cv.imdecode(np.frombuffer(data, np.uint8), cv.IMREAD_COLOR)), orientation
        assert np.array_equal(upright(stored, orientation), page)


def test_joining_the_closest_neighbours_by_heap_matches_the_rescan():
    def rescan(groups, digits):  # the quadratic definition: the narrowest gap, leftmost of equals, each time
        while len(groups) > digits:
            gaps = _gaps(groups)
            i = gaps.index(min(gaps))
            groups = groups[:i] + [_union(groups[i], groups[i + 1])] + groups[i + 2 :]
        return groups

    rng = random.Random(14)
    for _ in range(2000):
        groups = sorted(
            (
                Rect(rng.randint(0, 120), rng.randint(0, 20), rng.randint(1, 20), rng.randint(1, 30))
                for _ in range(rng.randint(0, 40))
            ),
            key=lambda rect: rect.x,
        )
        digits = rng.randint(1, 8)
        assert _join_closest(groups, digits) == rescan(groups, digits), (groups, digits)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.mkdir(), "is a directory"),
        (os.mkfifo, "named pipe"),
        (lambda p: p.symlink_to("/dev/null"), "character device"),
        (lambda p: p.symlink_to(p), "loop of symbolic links"),
        (lambda p: None, "no such file"),
    ],
)
def test_each_bad_model_path_gets_one_true_line(tmp_path, make, words):
    model = tmp_path / "model.tflite"
    make(model)
    done = run(["-m", "device", "recognize", GOOD, "--model", str(model)], timeout=60)
    assert done.returncode == 2 and words in one_clean_line(done.stderr), done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_stdout_on_a_full_disk_is_one_line_and_a_failure():
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "device", "recognize", GOOD],
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1 and "No space left" in one_clean_line(done.stderr)


def _as_nobody():
    """The command prefix that runs a program as `nobody`, or None where this process cannot drop to it."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        return None
    prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import device.images"], cwd=ROOT, capture_output=True)
    return prefix if probe.returncode == 0 else None


@pytest.fixture
def shared_tmp():
    """A temporary folder others may enter (pytest's own are private to root)."""
    folder = tempfile.mkdtemp(prefix="ziplite-")
    os.chmod(folder, 0o755)
    yield pathlib.Path(folder)
    shutil.rmtree(folder)


def test_unreadable_pages_and_models_are_one_line_each_for_a_user_who_cannot_read_them(shared_tmp):
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip(
            "needs root and setpriv to run as nobody (root reads mode-000 files, so a test as root proves nothing)"
        )
    tmp_path = shared_tmp
    home = tmp_path / "home"  # the probe's cache, made as root (nobody may not run the probe's interpreter) and shared
    run(["-m", "device", "recognize", GOOD], env={"HOME": str(home)}, timeout=120)
    locked_dir, locked_page = tmp_path / "locked", tmp_path / "locked.png"
    locked_dir.mkdir()
    shutil.copy(ROOT / GOOD, locked_page)
    shutil.copy(ROOT / GOOD, locked_dir / "page.png")
    model = tmp_path / "model.tflite"
    shutil.copy(ROOT / "models/dmlp_int8.tflite", model)
    shutil.copy(ROOT / "models/dmlp_int8.json", tmp_path / "model.json")
    for path in (locked_dir, locked_page, model):
        path.chmod(0)
    for path in (tmp_path, home, *home.rglob("*")):
        if not path.is_symlink() and path not in (locked_dir, locked_page, model):
            path.chmod(0o777 if path.is_dir() else 0o666)
    env = {**os.environ, "HOME": str(home)}
    pages = subprocess.run(
        [*prefix, sys.executable, "-m", "device", "recognize", str(locked_page), GOOD, str(locked_dir / "page.png")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = pages.stdout.splitlines()
    assert pages.returncode == 1 and "Traceback" not in pages.stderr, pages.stderr
    assert [line.split(": ")[-1] for line in lines[::2]] == [lines[0].split(": ")[-1]] * 2
    assert "permission denied" in lines[0] and "permission denied" in lines[2] and _truth("boxed_1.png") in lines[1]
    models = subprocess.run(
        [*prefix, sys.executable, "-m", "device", "recognize", GOOD, "--model", str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert models.returncode == 2 and "permission denied" in one_clean_line(models.stderr)
    private = tmp_path / "private"  # a home whose cache this user may not enter: probed again, no traceback
    private.mkdir(mode=0o700)
    uncached = subprocess.run(
        [*prefix, sys.executable, "-m", "device", "recognize", GOOD],
        cwd=ROOT,
        env={**env, "HOME": str(private)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (uncached.returncode == 0 and _truth("boxed_1.png") in uncached.stdout) or (
        uncached.returncode == 2 and one_clean_line(uncached.stderr)
    ), uncached.stderr
    out = tmp_path / "batch.jsonl"
    batch = subprocess.run(
        [*prefix, sys.executable, "-m", "device", "batch", str(locked_page), GOOD, "--out", str(out), "--jobs", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in batch.stderr and "Usage" not in batch.stderr, batch.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert "permission denied" in records[0]["error"] and records[1]["zip"] == _truth("boxed_1.png")


@pytest.mark.parametrize(
    "suffix", [".png", ".jpg", ".webp", ".tiff", ".bmp", ".ppm", ".pgm", ".pam", ".pfm", ".hdr", ".jp2", ".ras"]
)
def test_damaged_headers_of_every_format_are_measured_or_refused(suffix):
    page = cv.imread(str(ROOT / PHOTO))
    if suffix == ".pgm":
        page = cv.cvtColor(page, cv.COLOR_BGR2GRAY)
    data = cv.imencode(suffix, page.astype(np.float32) / 255 if suffix in (".pfm", ".hdr") else page)[1].tobytes()
    assert read_header(data).width == page.shape[1]
    rng = random.Random(suffix)
    for _ in range(500):
        damaged = bytearray(data[: rng.choice([rng.randint(0, 64), rng.randint(0, 2000), len(data)])])
        for _ in range(rng.randint(0, 6)):
            if damaged:
                damaged[rng.randrange(min(len(damaged), 300))] = rng.randrange(256)
        try:
            header = read_header(bytes(damaged))
        except ImageError:
            continue
        assert header.width > 0 and header.height > 0 and header.decoded_bytes >= 0


@pytest.mark.parametrize("truth", [None, "[x", '["61451"]'])
def test_demo_over_a_folder_without_a_usable_truth_is_one_line(tmp_path, truth):
    if truth is not None:
        (tmp_path / "truth.json").write_text(truth)
    done = run(["-m", "device", "demo", "--samples", str(tmp_path)], timeout=60)
    assert done.returncode == 2 and "truth.json" in one_clean_line(done.stderr)
