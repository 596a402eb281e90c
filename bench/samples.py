"""`python -m bench.samples`: (re)draw device/samples/ from MNIST test digits, with their true zip codes.

The samples are the demo's and the bench's inputs, and golden files for the tests; regenerate
them only on purpose, then commit the PNGs and truth.json together.
"""

from __future__ import annotations

from pathlib import Path

import click
import cv2 as cv
import numpy as np

from bench.render import render
from device.base.files import atomic_path, write_json
from device.base.mnist import load_npz, mnist_option

SAMPLES = Path(__file__).resolve().parent.parent / "device" / "samples"
PLAN = (("boxed", 1), ("boxed", 2), ("free", 3), ("photo", 4))  # (layout, seed) per sample


@click.command()
@mnist_option()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=SAMPLES, show_default="device/samples")
def main(data, out):
    mnist = load_npz(data, splits=("test",))
    truth = {}
    for layout, seed in PLAN:
        canvas, zip_code = render(layout, mnist.x_test, mnist.y_test, np.random.default_rng(seed))
        path = out / f"{layout}_{seed}.png"
        with atomic_path(path) as tmp:
            if not cv.imwrite(str(tmp), canvas):
                raise click.ClickException(f"{path}: cannot write")
        truth[path.name] = zip_code
        click.echo(f"{path}: {zip_code}")
    write_json(out / "truth.json", truth)


if __name__ == "__main__":
    main()
