"""Camera mode on a video file and on a folder of images (no camera in CI, the same code path)."""

import json
import shutil

import cv2 as cv
import numpy as np

from helpers import ROOT, run


def test_folder_of_images(tmp_path):
    truth = json.loads((ROOT / "device/samples/truth.json").read_text())
    for name in ("free_3.png", "photo_4.png"):
        shutil.copy(ROOT / "device/samples" / name, tmp_path / name)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "notes.txt").write_text("not a frame")
    done = run(["-m", "device", "camera", "--source", str(tmp_path), "--no-window", "--json"])
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and "Traceback" not in done.stderr  # one frame was unreadable
    assert [line["file"].split("/")[-1] for line in lines] == ["broken.png", "free_3.png", "photo_4.png"]
    assert "error" in lines[0]
    # the reader's own reason, as recognize gives it for the same file
    same = run(["-m", "device", "recognize", str(tmp_path / "broken.png"), "--json"])
    assert lines[0]["error"] == json.loads(same.stdout)["error"]
    assert lines[1]["zip"] == truth["free_3.png"] and lines[2]["zip"] == truth["photo_4.png"]


def test_the_boxed_samples_are_read_in_their_boxes_by_default():
    truth = json.loads((ROOT / "device/samples/truth.json").read_text())
    done = run(["-m", "device", "camera", "--source", str(ROOT / "device/samples"), "--no-window", "--json"])
    assert done.returncode == 0, done.stderr
    read = {
        line["file"].split("/")[-1]: (line["zip"], line["layout"]) for line in map(json.loads, done.stdout.splitlines())
    }
    assert read["boxed_1.png"] == (truth["boxed_1.png"], "boxed") and read["boxed_2.png"] == (
        truth["boxed_2.png"],
        "boxed",
    )
    assert read["free_3.png"] == (truth["free_3.png"], "free")


def test_the_text_line_marks_the_digits_the_json_calls_low_confidence():
    # Boxed pages read as free handwriting: the red lines become ink, and some readings are unsure.
    args = ["-m", "device", "camera", "--source", str(ROOT / "device/samples"), "--no-window", "--layout", "free"]
    records = [json.loads(line) for line in run([*args, "--json"]).stdout.splitlines()]
    lines = run(args).stdout.splitlines()
    assert any(record["low_confidence"] for record in records)  # else this test checks nothing
    for record, line in zip(records, lines, strict=True):
        confidences = line.split("confidence ")[1].split(",")[0].split()
        marked = [c.endswith("?") for c in confidences]
        assert marked == [d["confidence"] is not None and d["confidence"] < 0.6 for d in record["digits"]], line
        assert ("LOW CONFIDENCE" in line) is record["low_confidence"], line


def test_video_file(tmp_path):
    page = cv.imread(str(ROOT / "device/samples/free_3.png"))
    frame = np.full((480, 640, 3), 235, np.uint8)
    frame[100 : 100 + page.shape[0], 40 : 40 + page.shape[1]] = page[:, :600]
    video = tmp_path / "held_up.avi"
    writer = cv.VideoWriter(str(video), cv.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for shift in range(6):  # the paper drifts a little, as in a hand
        writer.write(np.roll(frame, shift * 3, axis=1))
    writer.release()
    done = run(["-m", "device", "camera", "--source", str(video), "--no-window", "--json"])
    assert done.returncode == 0, done.stderr
    zips = [json.loads(line)["zip"] for line in done.stdout.splitlines()]
    truth = json.loads((ROOT / "device/samples/truth.json").read_text())["free_3.png"]
    assert len(zips) == 6 and zips.count(truth) >= 5


def test_a_source_that_is_not_a_video_is_one_clear_line(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    done = run(["-m", "device", "camera", "--source", str(fake), "--no-window"])
    assert done.returncode == 1 and "cannot open" in done.stderr and "Traceback" not in done.stderr


def test_the_frame_shows_regions_readings_and_rate():
    from device.app.camera import draw
    from device.recognize import recognize
    from device.runtime import Classifier

    frame = cv.imread(str(ROOT / "device/samples/free_3.png"))
    result = recognize(frame, Classifier(), "free", 5)
    shown = draw(frame, result, fps=29.7)
    assert np.array_equal(frame, cv.imread(str(ROOT / "device/samples/free_3.png")))  # the frame is not drawn on
    for region in filter(None, result.regions):  # each region is outlined in green (read) or orange (unsure)
        edge = shown[region.y, region.x : region.x + region.w]
        assert (edge[:, 1] > 100).mean() > 0.9 and (edge[:, 0] < 60).mean() > 0.9
    bottom = shown[-30:]
    assert ((bottom[:, :, 0] > 200) & (bottom[:, :, 2] < 60)).sum() > 100  # the blue zip-and-fps line
