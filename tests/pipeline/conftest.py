"""One real, brief training run (1 epoch of each chapter model on the real MNIST), shared by the suite."""

from __future__ import annotations

import json

import pytest

from helpers import run

# A test that needs one of these fixtures trains or converts on all of MNIST: minutes on 2 cores.
SLOW_FIXTURES = {"trained", "converted", "uninterrupted", "cnn"}


def pytest_collection_modifyitems(items):
    """Mark those tests slow, so `make test` leaves them to `make test-all` (and CI)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, mnist_path) -> dict:
    """models/ after `python -m train --epochs 1`: {'out': Path, 'stdout', 'stderr': str, 'reports': {name: dict}}."""
    out = tmp_path_factory.mktemp("models")
    done = run(["-m", "train", "--epochs", "1", "--data", str(mnist_path), "--out", str(out)], timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    reports = {name: json.loads((out / f"{name}.json").read_text()) for name in ("mlp_sgd", "mlp_adam", "dmlp")}
    return {"out": out, "stdout": done.stdout, "stderr": done.stderr, "reports": reports}
