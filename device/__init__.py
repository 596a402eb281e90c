"""ziplite device stage: the zip-code recogniser on tflite-runtime, numpy and OpenCV (never TensorFlow).

Three layers (README.md, Architecture; tests/device/test_layers.py keeps them): device/base, the
lowest, which train/, convert/ and bench/ share; the recognizer core in device/*.py; and the front
ends in device/app.
"""

import os

# Page images above this are refused before they are decoded (a 12 MP phone photo is 12e6; a
# 20000 x 20000 PNG bomb is 4e8). OpenCV reads its own ceiling once, when cv2 is first imported,
# so it is set here, before any module of the package can import cv2. It is the one setting made at
# import: a safety ceiling, not tuning, and it must precede cv2's first import in every process that
# reads pages through device/ (the CLI, bench/, tests, the batch workers).
MAX_PIXELS = 40_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
