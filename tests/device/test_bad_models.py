"""Every damaged or foreign model ends in exit status 2 and one line naming the file: never a crash."""
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from helpers import SHIPPED_MODEL, one_clean_line, run

SAMPLE = "device/samples/boxed_1.png"
MUTANTS = 200


def _install(folder, content: bytes, sidecar: dict | None, name="model"):
    model = folder / f"{name}.tflite"
    model.write_bytes(content)
    if sidecar is not None:
        (folder / f"{name}.json").write_text(json.dumps(sidecar))
    return model


def _shipped_sidecar() -> dict:
    return json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())


def _recognise_with(model, cache):
    return run(["-m", "device", "recognize", SAMPLE, "--json", "--model", str(model)], timeout=120,
               env={"XDG_CACHE_HOME": str(cache)})


def _assert_refused(done, model, *words):
    assert done.returncode == 2, (done.returncode, done.stderr)
    line = one_clean_line(done.stderr)
    assert str(model) in line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("damage, words", [
    (lambda b: b"", ["sha256"]),
    (lambda b: b[: len(b) // 2], ["sha256"]),
    (lambda b: b[:100] + bytes([b[100] ^ 0x10]) + b[101:], ["sha256"]),
    (lambda b: np.random.default_rng(1).bytes(len(b)), ["sha256"]),
])
def test_damaged_file_with_its_original_json(tmp_path, damage, words):
    model = _install(tmp_path, damage(SHIPPED_MODEL.read_bytes()), _shipped_sidecar())
    _assert_refused(_recognise_with(model, tmp_path / "cache"), model, *words)


def test_missing_model(tmp_path):
    _assert_refused(_recognise_with(tmp_path / "absent.tflite", tmp_path), tmp_path / "absent.tflite", "no such model")


def test_missing_json(tmp_path):
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), None)
    done = _recognise_with(model, tmp_path)
    assert done.returncode == 2 and "model.json: missing" in one_clean_line(done.stderr)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"sha256": 5}', '{"sha256": "x", "input": {"shape": [28, 28], '
                                  '"range": [0.0, 1.0], "ink": "high"}}', "\xff\xfe"])
def test_malformed_json(tmp_path, text):
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), None)
    (tmp_path / "model.json").write_text(text, encoding="latin-1")
    done = _recognise_with(model, tmp_path)
    assert done.returncode == 2 and "model.json" in one_clean_line(done.stderr)


def _mutate(content: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(content)
    kind = int(rng.integers(6))
    if kind == 0:                                   # a few flipped bits anywhere
        for _ in range(int(rng.integers(1, 9))):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    elif kind == 1:                                 # truncated
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == 2:                                 # a run of random bytes in the flatbuffer's tables
        start = int(rng.integers(0, 4096))
        data[start: start + 16] = rng.bytes(16)
    elif kind == 3:                                 # a zeroed block
        start = int(rng.integers(len(data)))
        data[start: start + int(rng.integers(1, 256))] = bytes(min(256, len(data) - start))[: len(data[start: start + 256])]
    elif kind == 4:                                 # bytes inserted, shifting every offset after them
        at = int(rng.integers(len(data)))
        data[at:at] = rng.bytes(int(rng.integers(1, 64)))
    else:                                           # bits flipped in the last 4 KB (buffers' tables)
        for _ in range(int(rng.integers(1, 9))):
            data[len(data) - 1 - int(rng.integers(4096))] ^= 1 << int(rng.integers(8))
    return bytes(data)


def test_fuzzed_models_never_crash_the_process(tmp_path):
    """200 mutants, each with a JSON rewritten to match it, so they all reach the loader."""
    original = SHIPPED_MODEL.read_bytes()
    rng = np.random.default_rng(2026)
    cases = []
    for index in range(MUTANTS):
        folder = tmp_path / f"m{index:03d}"
        folder.mkdir()
        content = _mutate(original, rng)
        sidecar = _shipped_sidecar() | {"sha256": hashlib.sha256(content).hexdigest()}
        cases.append((folder, _install(folder, content, sidecar)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda case: _recognise_with(case[1], case[0] / "cache"), cases))
    outcomes = {"refused": 0, "read": 0}
    for (folder, model), done in zip(cases, results):
        assert done.returncode in (0, 2), f"{model}: exit {done.returncode}\n{done.stderr[-500:]}"
        assert "Traceback" not in done.stderr, done.stderr
        if done.returncode == 2:
            assert str(model) in one_clean_line(done.stderr)
            outcomes["refused"] += 1
        else:
            assert len(json.loads(done.stdout)["zip"]) == 5
            outcomes["read"] += 1
    print(f"fuzz: {MUTANTS} mutants, {outcomes}, 0 crashes")
    assert outcomes["refused"] > MUTANTS // 4
