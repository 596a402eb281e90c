"""Import TensorFlow without the start-up lines its C++ core writes to stderr.

TF 2.21 prints them before absl's logging is initialised, so TF_CPP_MIN_LOG_LEVEL cannot stop
them; they would bury the one line a user needs when, say, the data file is wrong. convert/ uses
this too: it is the only piece of train/ that it imports.
"""

from __future__ import annotations

import os

from device.base.native import native_stderr_hidden


def import_tensorflow_quietly() -> None:
    """Import tensorflow and let it look for devices with stderr hidden (replayed if the import fails)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_hidden():
        import tensorflow

        # Finding the devices is where TF reports, as an error, that this machine has no CUDA
        # driver; nothing is wrong: ziplite trains on the CPU.
        tensorflow.config.list_physical_devices()
