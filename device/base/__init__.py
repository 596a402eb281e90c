"""The project's lowest layer: what train/, convert/, bench/ and the device all share.

The model's input contract, MNIST loading, atomic file writes, native-library chatter, the heap
setting and the one-line user error. Nothing here imports the rest of device/ or any heavy library.
"""
