"""Benchmark canvases rendered from MNIST test digits, and the recogniser's accuracy on them."""
