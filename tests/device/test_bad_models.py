"""Every damaged or foreign model ends in exit status 2 and one line naming the file: never a crash."""

import hashlib
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from device.runtime import Classifier
from helpers import ROOT, SHIPPED_MODEL, one_clean_line, run

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
    return run(
        ["-m", "device", "recognize", SAMPLE, "--json", "--model", str(model)],
        timeout=120,
        env={"XDG_CACHE_HOME": str(cache)},
    )


def _assert_refused(done, model, *words):
    assert done.returncode == 2, (done.returncode, done.stderr)
    line = one_clean_line(done.stderr)
    assert str(model) in line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda b: b"", ["sha256"]),
        (lambda b: b[: len(b) // 2], ["sha256"]),
        (lambda b: b[:100] + bytes([b[100] ^ 0x10]) + b[101:], ["sha256"]),
        (lambda b: np.random.default_rng(1).bytes(len(b)), ["sha256"]),
    ],
)
def test_damaged_file_with_its_original_json(tmp_path, damage, words):
    model = _install(tmp_path, damage(SHIPPED_MODEL.read_bytes()), _shipped_sidecar())
    _assert_refused(_recognise_with(model, tmp_path / "cache"), model, *words)


def test_missing_model(tmp_path):
    _assert_refused(_recognise_with(tmp_path / "absent.tflite", tmp_path), tmp_path / "absent.tflite", "no such file")


def test_missing_json(tmp_path):
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), None)
    done = _recognise_with(model, tmp_path)
    assert done.returncode == 2 and "model.json: missing" in one_clean_line(done.stderr)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"sha256": 5}',
        '{"sha256": "x", "input": {"shape": [28, 28], "range": [0.0, 1.0], "ink": "high"}}',
        "\xff\xfe",
    ],
)
def test_malformed_json(tmp_path, text):
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), None)
    (tmp_path / "model.json").write_text(text, encoding="latin-1")
    done = _recognise_with(model, tmp_path)
    assert done.returncode == 2 and "model.json" in one_clean_line(done.stderr)


def _mutate(content: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(content)
    kind = int(rng.integers(6))
    if kind == 0:  # a few flipped bits anywhere
        for _ in range(int(rng.integers(1, 9))):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncated
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == 2:  # a run of random bytes in the flatbuffer's tables
        start = int(rng.integers(0, 4096))
        data[start : start + 16] = rng.bytes(16)
    elif kind == 3:  # a zeroed block
        start = int(rng.integers(len(data)))
        data[start : start + int(rng.integers(1, 256))] = bytes(min(256, len(data) - start))[
            : len(data[start : start + 256])
        ]
    elif kind == 4:  # bytes inserted, shifting every offset after them
        at = int(rng.integers(len(data)))
        data[at:at] = rng.bytes(int(rng.integers(1, 64)))
    else:  # bits flipped in the last 4 KB (buffers' tables)
        for _ in range(int(rng.integers(1, 9))):
            data[len(data) - 1 - int(rng.integers(4096))] ^= 1 << int(rng.integers(8))
    return bytes(data)


@pytest.mark.slow
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
    for (_folder, model), done in zip(cases, results):
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


# --- The model's JSON: hostile documents, and labels that would misread digits --------------------


def _read_sidecar_of(folder, text: str | bytes):
    from device.runtime import read_sidecar

    model = folder / "model.tflite"
    (folder / "model.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    return read_sidecar(model)


def _hostile_documents():
    """Documents that broke the parser (a traceback) or used to be trusted."""
    shipped = _shipped_sidecar()
    yield "brackets", "[" * 100_000
    yield "deep keys", '{"a":' * 5_000 + "1" + "}" * 5_000
    yield "huge integer", json.dumps(shipped)[:-1] + ', "size_bytes": ' + "9" * 5_000 + "}"
    yield "NaN", json.dumps(shipped | {"size_bytes": float("nan")})
    yield "not UTF-8", b"\xff\xfe{}"
    yield "no tensors", json.dumps({k: v for k, v in shipped.items() if k != "tensors"})
    yield (
        "tensor scale text",
        json.dumps(
            shipped | {"tensors": {**shipped["tensors"], "input": {**shipped["tensors"]["input"], "scale": "0.5"}}}
        ),
    )
    yield "runtimes a list", json.dumps(shipped | {"runtimes": []})
    # Labels: the class index is the digit everywhere, so anything but "0".."9" in order is refused.
    for name, labels in [
        ("reversed", [str(d) for d in range(9, -1, -1)]),
        ("ten to nineteen", [str(d) for d in range(10, 20)]),
        ("negative", [str(-d) for d in range(10)]),
        ("letters", list("abcdefghij")),
        ("nine", [str(d) for d in range(9)]),
        ("repeated", ["0"] * 10),
        ("numbers", list(range(10))),
        ("a swap", ["1", "0", *map(str, range(2, 10))]),
    ]:
        yield f"labels {name}", json.dumps(shipped | {"labels": labels})


@pytest.mark.parametrize("name, text", list(_hostile_documents()), ids=[name for name, _ in _hostile_documents()])
def test_hostile_sidecar_is_one_error_naming_the_file(tmp_path, name, text):
    from device.interpreters import ModelError

    with pytest.raises(ModelError) as refused:
        _read_sidecar_of(tmp_path, text)
    message = str(refused.value)
    assert "model.json" in message and "\n" not in message and len(message) < 400, message


def test_oversized_sidecar_is_refused_before_it_is_read(tmp_path):
    """A 1 GB sidecar (sparse: no disk used) is refused from its size, in well under a second."""
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), None)
    with open(tmp_path / "model.json", "wb") as handle:
        handle.truncate(1 << 30)
    done = _recognise_with(model, tmp_path / "cache")
    _assert_refused(done, tmp_path / "model.json", "too large")


def test_labels_not_the_ten_digits_are_refused_on_the_command_line(tmp_path):
    model = _install(tmp_path, SHIPPED_MODEL.read_bytes(), _shipped_sidecar() | {"labels": list("9876543210")})
    done = _recognise_with(model, tmp_path / "cache")
    _assert_refused(done, tmp_path / "model.json", "labels")


# --- The model's own tensors against its JSON, and known answers --------------------------------


def _offsets(content: bytes, pattern: bytes) -> list[int]:
    found, at = [], content.find(pattern)
    while at != -1:
        found.append(at)
        at = content.find(pattern, at + 1)
    return found


def _numeric_edits(content: bytes):
    """Every place the shipped int8 model stores a quantisation value or softmax's beta (found by value,
    so a reconverted model is covered too), each set to values that used to read a wrong zip code."""
    sidecar = _shipped_sidecar()["tensors"]
    floats = [sidecar["input"]["scale"], sidecar["output"]["scale"], 1.0]  # 1.0: softmax beta
    for value in floats:
        for offset in _offsets(content, struct.pack("<f", value)):
            for new in (0.0, -1.0, value * 4):
                yield f"float {value:g}@{offset} -> {new:g}", offset, struct.pack("<f", new)
    for zero_point in {sidecar["input"]["zero_point"], sidecar["output"]["zero_point"]}:
        for offset in _offsets(content, struct.pack("<q", zero_point)):
            for new in (0, 127):
                yield f"zero point {zero_point}@{offset} -> {new}", offset, struct.pack("<q", new)


def test_edited_quantisation_or_softmax_never_reads_a_wrong_zip_code(tmp_path):
    """With the JSON's hash rewritten to match, each edit is refused with one line or reads every sample
    canvas right: never a wrong zip code with exit status 0 (they read 88888, 33333 or 00000)."""
    original = SHIPPED_MODEL.read_bytes()
    truth = json.loads((ROOT / "device" / "samples" / "truth.json").read_text())
    cases = []
    for index, (name, offset, new) in enumerate(_numeric_edits(original)):
        content = original[:offset] + new + original[offset + len(new) :]
        folder = tmp_path / f"e{index:03d}"
        folder.mkdir()
        sidecar = _shipped_sidecar() | {"sha256": hashlib.sha256(content).hexdigest()}
        cases.append((name, folder, _install(folder, content, sidecar)))
    assert len(cases) >= 15

    def read_samples(case):
        _, folder, model = case
        return run(
            [
                "-m",
                "device",
                "recognize",
                *(f"device/samples/{name}" for name in truth),
                "--json",
                "--model",
                str(model),
            ],
            timeout=120,
            env={"XDG_CACHE_HOME": str(folder / "cache")},
        )

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(read_samples, cases))
    refused = 0
    for (name, _, model), done in zip(cases, results):
        if done.returncode == 2:
            assert str(model) in one_clean_line(done.stderr), name
            refused += 1
            continue
        assert done.returncode == 0, (name, done.returncode, done.stderr[-300:])
        zips = [json.loads(line)["zip"] for line in done.stdout.splitlines()]
        assert zips == list(truth.values()), f"{name}: read {zips} with exit 0"
    print(f"{len(cases)} edits: {refused} refused, {len(cases) - refused} read every sample right")
    assert refused >= len(cases) // 2


def test_the_shipped_model_reads_every_known_digit():
    """The probe's known answers are real: the shipped model reads all of them (it needs 8 of 20)."""
    from device.probe import KNOWN_DIGITS, MIN_KNOWN_RIGHT

    known = np.load(KNOWN_DIGITS)
    scores = Classifier(SHIPPED_MODEL).predict(known["images"].astype(np.float32) / 255)
    assert int(np.sum(scores.argmax(1) == known["digits"])) == len(known["digits"]) >= MIN_KNOWN_RIGHT
    # No class holds more than the threshold's margin: a one-class model cannot pass.
    assert np.bincount(known["digits"]).max() < MIN_KNOWN_RIGHT


# --- Threads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", ["0", "65", "2147483648", "100000", "-1", "two"])
def test_thread_counts_outside_1_to_64_are_a_usage_error(threads):
    done = run(["-m", "device", "recognize", SAMPLE, "--threads", threads], timeout=60)
    assert done.returncode == 2 and "--threads" in done.stderr and "Traceback" not in done.stderr
