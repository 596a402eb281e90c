"""Where TensorFlow is importable, recognising a zip code still never imports it."""

import subprocess
import sys

from helpers import ROOT


def test_recognising_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys, runpy; sys.argv = ['device', 'recognize', 'device/samples/boxed_1.png'];\n"
        "try: runpy.run_module('device', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
