"""What a batch worker does with a page: one classifier, recognize --json's record or the page's error record.

Shared by the process pool (device/app/batch.py) and the Ray actors (device/app/batch_ray.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from device.images import ImageError, read_image
from device.recognize import PageError, error_record, recognize
from device.runtime import Classifier


@dataclass(frozen=True)
class BatchOptions:
    """What every worker needs to read a page the same way (it travels to each worker once)."""

    classifier_args: tuple  # (model path, interpreter threads, runtime), as load_classifier takes them
    layout: str
    digits: int
    model_name: str  # the model as results name it: computed here, where the command runs


class PageReader:
    """One classifier reading pages into JSON lines: each pool worker and each Ray actor holds one."""

    def __init__(self, classifier: Classifier, options: BatchOptions):
        self.classifier = classifier
        self.options = options

    def read(self, paths: Iterable[str]) -> tuple[list[str], int]:
        """The JSON line of each page, and how many of them are errors."""
        records = [self.record(path) for path in paths]
        return [json.dumps(record) for record in records], sum("error" in record for record in records)

    def record(self, source: str, path: str | None = None) -> dict:
        """recognize --json's record for the page `source` names (read from `path` when given), or its error record."""
        try:
            result = recognize(read_image(path or source), self.classifier, self.options.layout, self.options.digits)
        except (ImageError, PageError) as error:
            return error_record(source, str(error))
        except Exception as error:  # one page the recogniser trips on must not stop a million-page batch
            return error_record(source, f"cannot recognize it ({type(error).__name__}: {error})")
        record = result.record(source, self.classifier)
        # The model named as the command line names it: a Ray actor loads its copy from a temporary folder.
        record["model"] = self.options.model_name
        return record
