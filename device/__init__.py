"""ziplite device stage: the zip-code recogniser on tflite-runtime, numpy and OpenCV (never TensorFlow).

The modules here with no heavy imports (contract, mnist, files, native) are the project's lowest
layer: train/ and convert/ use them too, so the model input, the data checks, atomic writes and the
hiding of native libraries' chatter each live in one place.
"""

import os

# Page images above this are refused before they are decoded (a 12 MP phone photo is 12e6; a
# 20000 x 20000 PNG bomb is 4e8). OpenCV reads its own ceiling once, when cv2 is first imported,
# so it is set here, before any module of the package can import cv2.
MAX_PIXELS = 40_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
