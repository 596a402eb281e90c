"""`batch --engine ray` on a real Ray, in .venv-cluster (make test-cluster): few, small, real.

The same pages through the local engine and through Ray Data must give the same lines, once sorted
by file (the `ms` timings aside), on a Ray started by the command itself and on a cluster of two
Ray nodes started as separate processes, whose head has no CPU: every page is read on the worker
node, by an actor that got the model with the job.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SAMPLES = ROOT / "device" / "samples"
RAY = Path(sys.executable).parent / "ray"

pytestmark = pytest.mark.skipif(shutil.which(str(RAY)) is None, reason="unreachable: run in .venv-cluster")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[str]:
    """The device's sample canvases, a few copies under folders, and two pages that cannot be read."""
    folder = tmp_path_factory.mktemp("archive")
    for copy in range(3):
        for sample in SAMPLES.glob("*.png"):
            (folder / f"copy{copy}").mkdir(exist_ok=True)
            shutil.copy(sample, folder / f"copy{copy}" / sample.name)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    return sorted(str(path) for path in folder.rglob("*") if path.is_file())


def batch(*args, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "device", "batch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def sorted_records(out: Path) -> list[dict]:
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for record in records:
        record.pop("ms", None)
    return sorted(records, key=lambda record: record["file"])


@pytest.fixture(scope="module")
def local_records(pages, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("local") / "results.jsonl"
    done = batch(*pages, "--out", out, "--jobs", "1")
    assert done.returncode == 0, done.stderr
    return sorted_records(out)


def test_a_local_ray_gives_the_local_engines_lines_and_resumes(pages, local_records, tmp_path):
    out = tmp_path / "results.jsonl"
    first = batch(*pages[:5], "--out", out, "--engine", "ray", "--jobs", "2")
    assert first.returncode == 0, first.stderr
    resumed = batch(*pages, "--out", out, "--engine", "ray", "--jobs", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines()[-1].startswith(f"{len(pages) - 5} pages, 2 errors, "), resumed.stderr
    assert sorted_records(out) == local_records
    assert len(out.read_text().splitlines()) == len(pages)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_node_cluster(tmp_path):
    """A head with no CPU and a worker node with two, each started by `ray start` as its own processes."""
    address = f"127.0.0.1:{_free_port()}"
    # `ray start` makes a token (~/.ray/auth_token) that every node and driver must present; the head
    # turns token mode on by itself, the others are told.
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    start = [str(RAY), "start", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        for node in (
            ["--head", f"--port={address.split(':')[1]}", "--include-dashboard=false", "--num-cpus=0"],
            [f"--address={address}", "--num-cpus=2"],
        ):
            started = subprocess.run([*start, *node], capture_output=True, text=True, timeout=120, env=env)
            assert started.returncode == 0, started.stderr[-2000:]
        yield address
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)


def test_a_two_node_cluster_reads_every_page_on_its_worker_node(pages, local_records, two_node_cluster, tmp_path):
    out = tmp_path / "results.jsonl"
    done = batch(*pages, "--out", out, "--engine", "ray", "--address", two_node_cluster, env={"RAY_AUTH_MODE": "token"})
    assert done.returncode == 0, done.stderr
    assert sorted_records(out) == local_records


def test_ray_is_not_imported_by_the_local_engine(pages, tmp_path):
    probe = (
        "import sys, runpy; sys.argv = ['device', 'batch', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('device', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "assert 'ray' not in sys.modules, 'the local engine imported Ray'"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, pages[0], "--out", str(tmp_path / "r.jsonl"), "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
