"""Import TensorFlow without the start-up lines its C++ core writes to stderr.

TF 2.21 prints them before absl's logging is initialised, so TF_CPP_MIN_LOG_LEVEL cannot stop
them; they would bury the one line a user needs when, say, the data file is wrong. convert/ uses
this too: it is the only piece of train/ that it imports.
"""
from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import tensorflow with file descriptor 2 pointed away; replay the output if the import fails."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
