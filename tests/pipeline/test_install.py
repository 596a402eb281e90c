"""convert/'s install under kill -9 at every rename: readers find the old pair or the new one, never a mix.

The install runs in a real subprocess that SIGKILLs itself just before its k-th rename
(ZIPLITE_KILL_AT_RENAME=k); the device then reads the sample canvas with the pair left behind, and
the next run's clean-up leaves exactly one consistent pair and no temporaries.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from convert.cli import KILL_AT_RENAME, clean_up_after_a_killed_run
from device.base.files import sha256_of
from helpers import DEVICE_PYTHON, ROOT, SHIPPED_MODEL, run

SAMPLE = "device/samples/boxed_1.png"
RENAMES_PER_PAIR = 3


def _pair(folder, content: bytes) -> str:
    """dmlp_int8.tflite and its JSON in `folder`; returns the model's sha256."""
    sha = hashlib.sha256(content).hexdigest()
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text()) | {"sha256": sha, "size_bytes": len(content)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dmlp_int8.tflite").write_bytes(content)
    (folder / "dmlp_int8.json").write_text(json.dumps(sidecar))
    return sha


def _install_killed_at(out, step: int | None) -> subprocess.CompletedProcess:
    code = "import sys; from pathlib import Path; from convert.cli import _install; _install(Path(sys.argv[1]), Path(sys.argv[2]))"
    env = {**os.environ, KILL_AT_RENAME: str(step)} if step else dict(os.environ)
    return subprocess.run(
        [sys.executable, "-c", code, str(out / ".convert-staging"), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _device_reads(model, cache) -> str:
    done = run(
        ["-m", "device", "recognize", SAMPLE, "--json", "--model", str(model)],
        python=DEVICE_PYTHON,
        timeout=120,
        env={"XDG_CACHE_HOME": str(cache)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["zip"]


@pytest.mark.parametrize("step", [1, 2, 3, None], ids=["before-1", "before-2", "before-3", "complete"])
def test_killed_install_leaves_the_old_pair_or_the_new_one(tmp_path, step):
    out = tmp_path / "models"
    original = SHIPPED_MODEL.read_bytes()
    old = _pair(out, original)
    new = _pair(out / ".convert-staging", original + bytes(16))  # the same network, other bytes and hash
    done = _install_killed_at(out, step)
    assert done.returncode == (-signal.SIGKILL if step else 0), done.stderr
    # Up to the JSON's rename (step 2) the old pair is installed; from then on the new one.
    expected = new if step is None or step > 2 else old
    assert json.loads((out / "dmlp_int8.json").read_text())["sha256"] == expected
    assert _device_reads(out / "dmlp_int8.tflite", tmp_path / "cache") == "61451"

    clean_up_after_a_killed_run(out)  # what the next convert does first
    assert sha256_of(out / "dmlp_int8.tflite") == expected
    assert sorted(path.name for path in out.iterdir()) == ["dmlp_int8.json", "dmlp_int8.tflite"]
    assert _device_reads(out / "dmlp_int8.tflite", tmp_path / "cache") == "61451"


def test_clean_up_removes_what_a_killed_run_left(tmp_path):
    _pair(tmp_path, SHIPPED_MODEL.read_bytes())
    leftovers = [
        ".parity.k2j3.tmp.png",
        ".cnn_parity.a1b2.tmp.json",
        ".dmlp_int8.x9y8.tmp.json",
        ".dmlp_float32.q1w2.tmp.tflite",
        f".dmlp_int8.{'ab' * 32}.tflite",
        ".convert-staging/dmlp_int8.tflite",
    ]
    for name in leftovers:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / ".dmlp.q1w2.tmp.keras").write_bytes(b"train's, not convert's")
    clean_up_after_a_killed_run(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".dmlp.q1w2.tmp.keras",
        "dmlp_int8.json",
        "dmlp_int8.tflite",
    ]


def test_a_child_dies_with_its_killed_parent(tmp_path):
    """convert's `device evaluate` (and the probe) are started with die_with_parent: kill -9 the parent,
    and the child goes too instead of running on."""
    pid_file = tmp_path / "child.pid"
    parent = (
        "import subprocess, sys, time; from device.base.children import die_with_parent; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], preexec_fn=die_with_parent()); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its killed parent"
    finally:
        process.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().split(")")[-1].split()[0] != "Z"  # a zombie has already exited
    except FileNotFoundError:
        return False
