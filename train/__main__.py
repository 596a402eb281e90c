from train.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

from device.base.errors import run_program  # noqa: E402
from train.cli import main  # noqa: E402

run_program(main, "python -m train")
