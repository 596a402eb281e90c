"""Bad pages: each gets a per-file error or a blank reading, the batch goes on, memory stays bounded."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import cv2 as cv
import numpy as np
import pytest

from helpers import ROOT

GOOD = "device/samples/boxed_1.png"


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
    return pages


@pytest.fixture(scope="module")
def outcome(bad_pages):
    """One `recognize --json` over every bad page and one good one, with its peak memory."""
    paths = [str(path) for path, _ in bad_pages.values()] + [GOOD]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "device", "recognize", *paths, "--json"], cwd=ROOT,
                                 stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = {json.loads(line)["file"]: json.loads(line) for line in stdout.splitlines()}
    return {"code": os.waitstatus_to_exitcode(status), "stderr": stderr, "lines": lines, "peak_mb": usage.ru_maxrss / 1024}


def test_every_page_gets_a_line_and_the_batch_goes_on(bad_pages, outcome):
    assert outcome["code"] == 1 and "Traceback" not in outcome["stderr"]
    assert len(outcome["lines"]) == len(bad_pages) + 1
    assert outcome["lines"][GOOD]["zip"] == json.loads((ROOT / "device/samples/truth.json").read_text())["boxed_1.png"]


@pytest.mark.parametrize("name", ["empty.png", "text.png", "truncated.png", "bomb.png", "directory.png",
                                  "deep_rgba.png", "bomb.tif"])
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
