"""`--help` of the TensorFlow stages answers without loading TensorFlow (seconds) or matplotlib."""

import pytest

from helpers import run

HEAVY = ("tensorflow", "keras", "matplotlib", "cv2")


@pytest.mark.parametrize("stage", ["train", "convert"])
def test_help_imports_nothing_heavy(stage):
    done = run(["-X", "importtime", "-m", stage, "--help"])
    assert done.returncode == 0 and done.stdout.startswith(f"Usage: python -m {stage} ")
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))
