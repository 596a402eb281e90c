"""The model's JSON (its sidecar): read with a size cap, parsed safely, validated against a schema.

The sidecar decides what the device trusts (the model's hash, its contract, its tensors), so a
hostile or damaged one must end in one line, never a traceback or a runaway read: its size is
capped before it is read, nesting and huge numbers are parse errors, and the schema below (checked
by jsonschema, not by hand) says which fields and values a ziplite model description holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema

from device.base.contract import INPUT_SHAPES, LABELS
from device.base.files import UnreadableFile, read_regular_file
from device.interpreters import ModelError

# convert/ writes about 3 KB; a thousand times that is still a description, anything larger is not.
MAX_SIDECAR_BYTES = 4 * 1024 * 1024

_TENSOR = {
    "type": "object",
    "required": ["dtype", "shape", "scale", "zero_point"],
    "properties": {
        "dtype": {"type": "string", "maxLength": 16},
        "shape": {"type": "array", "maxItems": 8, "items": {"type": "integer", "minimum": -1, "maximum": 1 << 20}},
        "scale": {"type": "number", "minimum": 0, "maximum": 1e6},
        "zero_point": {"type": "integer", "minimum": -(1 << 31), "maximum": 1 << 31},
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["sha256", "input", "labels", "tensors"],
    "properties": {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "input": {
            "type": "object",
            "required": ["shape", "range", "ink"],
            "properties": {
                "shape": {"enum": [list(shape) for shape in INPUT_SHAPES]},
                "range": {"const": [0.0, 1.0]},
                "ink": {"const": "high"},
            },
        },
        # The class index is the digit everywhere (recognize, evaluate, convert's parity against MNIST),
        # so the only labels that describe a model truthfully are "0".."9" in order.
        "labels": {"const": LABELS},
        "tensors": {
            "type": "object",
            "required": ["input", "output"],
            "properties": {"input": _TENSOR, "output": _TENSOR},
        },
        "runtimes": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "version": {"type": "string"},
                    "loads": {"type": "boolean"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def read_sidecar(model_path: Path) -> dict:
    """The model's JSON, valid against SCHEMA.

    Raises:
        ModelError: missing, too large, not JSON, or not a ziplite model description (one line).
    """
    path = sidecar_path(model_path)
    document = _parse(path, _read_capped(path))
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the document"
        raise ModelError(
            f"{path}: {where}: {_short(error.message)}; this is not the JSON convert/ writes "
            "for a ziplite model (copy it again with its model, or rerun make convert)"
        )
    return document


def _read_capped(path: Path) -> bytes:
    if not os.path.lexists(path):
        raise ModelError(
            f"{path}: missing; every model needs the JSON that convert/ writes beside it "
            "(run make convert, or copy the JSON with the model)"
        )
    try:
        return read_regular_file(path, MAX_SIDECAR_BYTES)
    except UnreadableFile as error:
        hint = "too large for a model's JSON" if "larger than" in str(error) else "not the JSON convert/ wrote"
        raise ModelError(f"{path}: {error} ({hint}); copy it again with its model") from None


def _parse(path: Path, content: bytes):
    try:
        return json.loads(content.decode("utf-8"), parse_constant=_refuse_constant)
    # RecursionError: nesting deeper than Python's stack; ValueError: bad JSON, NaN, or an integer
    # longer than Python converts (4,300 digits).
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelError(
            f"{path}: not valid JSON ({_short(str(error) or type(error).__name__)}); "
            "copy it again with its model, or rerun make convert"
        ) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _short(text: str, limit: int = 160) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit] + "..."
