"""The chapter's worked examples, as Keras models with the book's own fixed weights.

The perceptron of Figure 7-2 (logical OR) and the multilayer perceptron of Table 7-1 (XOR) use
the step activation: +1 if s > 0, else -1. Weight vectors are written as in the book, bias first:
u = (u0, u1, u2) computes s = u0 + u1*x1 + u2*x2.
"""

from __future__ import annotations

import keras
import numpy as np

BOOK_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)

OR_WEIGHTS = (-0.5, 1.0, 1.0)
XOR_HIDDEN = ((-0.5, 1.0, 1.0), (1.5, -1.0, -1.0))
XOR_OUTPUT = (-1.0, 1.0, 1.0)


def step(s):
    """The book's step (threshold) activation: +1 if s > 0, else -1."""
    return keras.ops.where(s > 0, 1.0, -1.0)


def _fixed_dense(rows: tuple[tuple[float, ...], ...], name: str) -> keras.layers.Dense:
    """A Dense layer that computes step(u0 + u . x) for each book row u = (u0, u1, ...)."""
    weights = np.array(rows, dtype=np.float32)
    layer = keras.layers.Dense(len(rows), activation=step, name=name, trainable=False)
    layer.build((None, weights.shape[1] - 1))
    layer.set_weights([weights[:, 1:].T, weights[:, 0]])
    return layer


def or_perceptron() -> keras.Model:
    return keras.Sequential([keras.Input(shape=(2,)), _fixed_dense((OR_WEIGHTS,), "or")], name="or_perceptron")


def xor_mlp() -> keras.Model:
    """Returns a model whose outputs are (hidden z1, z2, output o), to check Table 7-1 row by row."""
    inputs = keras.Input(shape=(2,))
    hidden = _fixed_dense(XOR_HIDDEN, "hidden")(inputs)
    output = _fixed_dense((XOR_OUTPUT,), "output")(hidden)
    return keras.Model(inputs, keras.layers.Concatenate()([hidden, output]), name="xor_mlp")


def gradient_descent_example(steps: int = 2, learning_rate: float = 1.0) -> list[float]:
    """Example 7-5: gradient descent on one weight, run by Keras' own SGD.

    A single linear unit o = u*x learns the sample (x=0.2, y=1) under the squared error
    (y - o)^2, from u = 0.8 with rho = 1. The book's sequence is 0.8, 1.136, 1.4451.
    """
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].set_weights([np.array([[0.8]], dtype=np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mean_squared_error")
    x, y = np.array([[0.2]], np.float32), np.array([[1.0]], np.float32)
    history = [0.8]
    for _ in range(steps):
        model.train_on_batch(x, y)
        history.append(float(model.layers[0].get_weights()[0][0, 0]))
    return history
