"""ziplite device stage: the zip-code recogniser on tflite-runtime, numpy and OpenCV (never TensorFlow).

The modules here with no heavy imports (contract, mnist, files) are the project's lowest layer:
train/ and convert/ use them too, so the model input, the data checks and atomic writes each live
in one place.
"""
