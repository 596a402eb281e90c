"""A training run killed mid-way leaves the previous models intact and resumes to the same result."""

import json
import signal
import subprocess
import sys
import time

import pytest

from device.base.files import sha256_of
from helpers import ROOT, run

EPOCHS = 3


def _start(out, mnist_path, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "train",
            "mlp_adam",
            "--epochs",
            str(EPOCHS),
            "--data",
            str(mnist_path),
            "--out",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_checkpoint(out, process, timeout=240):
    state = out / ".checkpoints" / "mlp_adam" / "state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["progress"]["epochs_done"] >= 1:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.kill()
    pytest.fail("no checkpoint appeared")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_path):
    out = tmp_path_factory.mktemp("straight")
    done = run(["-m", "train", "mlp_adam", "--epochs", str(EPOCHS), "--data", str(mnist_path), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    return json.loads((out / "mlp_adam.json").read_text())


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["power-cut", "kill"])
def test_killed_run_keeps_old_models_and_resumes_to_the_same_result(tmp_path, mnist_path, trained, uninterrupted, stop):
    previous = {}
    for name in ("mlp_adam.keras", "mlp_adam.json"):
        (tmp_path / name).write_bytes((trained["out"] / name).read_bytes())
        previous[name] = sha256_of(tmp_path / name)

    process = _start(tmp_path, mnist_path)
    _wait_for_checkpoint(tmp_path, process)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    if stop == signal.SIGTERM:
        assert process.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr
    assert {name: sha256_of(tmp_path / name) for name in previous} == previous

    resumed = run(
        [
            "-m",
            "train",
            "mlp_adam",
            "--epochs",
            str(EPOCHS),
            "--data",
            str(mnist_path),
            "--out",
            str(tmp_path),
            "--resume",
        ]
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stdout
    report = json.loads((tmp_path / "mlp_adam.json").read_text())
    assert report["epochs"] == EPOCHS and len(report["history"]["val_accuracy"]) == EPOCHS
    # Same seed, same batches: the same model up to floating-point noise.
    assert abs(report["test_accuracy"] - uninterrupted["test_accuracy"]) <= 0.003
    for ours, theirs in zip(report["history"]["val_accuracy"], uninterrupted["history"]["val_accuracy"]):
        assert abs(ours - theirs) <= 0.003
    assert not (tmp_path / ".checkpoints").exists()


def test_resume_with_other_options_is_refused(tmp_path, mnist_path):
    process = _start(tmp_path, mnist_path)
    _wait_for_checkpoint(tmp_path, process)
    process.kill()
    process.communicate(timeout=60)
    done = run(
        [
            "-m",
            "train",
            "mlp_adam",
            "--epochs",
            str(EPOCHS),
            "--batch-size",
            "64",
            "--data",
            str(mnist_path),
            "--out",
            str(tmp_path),
            "--resume",
        ]
    )
    assert done.returncode == 1 and "resume with the same options" in done.stderr
