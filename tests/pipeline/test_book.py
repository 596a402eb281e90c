"""The chapter's worked examples, asserted against the book's own tables."""

import numpy as np
import pytest

from train import book


def test_or_perceptron_gives_the_books_outputs():
    outputs = book.or_perceptron().predict(book.BOOK_INPUTS, verbose=0)[:, 0]
    np.testing.assert_array_equal(outputs, [-1, 1, 1, 1])


def test_xor_network_reproduces_table_7_1_row_by_row():
    rows = book.xor_mlp().predict(book.BOOK_INPUTS, verbose=0)
    np.testing.assert_array_equal(rows[:, :2], [[-1, 1], [1, 1], [1, 1], [1, -1]])  # hidden z
    np.testing.assert_array_equal(rows[:, 2], [-1, 1, 1, -1])  # output o


def test_step_activation_is_plus_one_only_above_zero():
    values = np.array([-2.0, -1e-6, 0.0, 1e-6, 3.0], np.float32)
    np.testing.assert_array_equal(np.asarray(book.step(values)), [-1, -1, -1, 1, 1])


@pytest.mark.parametrize(
    "name, s, expected",
    [
        ("sigmoid", [-2.0, 0.0, 2.0], [1 / (1 + np.e**2), 0.5, 1 / (1 + np.e**-2)]),
        ("tanh", [-1.0, 0.0, 1.0], [np.tanh(-1.0), 0.0, np.tanh(1.0)]),
        ("relu", [-1.5, 0.0, 2.5], [0.0, 0.0, 2.5]),
        ("softplus", [-1.0, 0.0, 1.0], [np.log1p(np.e**-1), np.log(2.0), np.log1p(np.e)]),
        ("leaky_relu", [-2.0, 0.0, 2.0], [-0.4, 0.0, 2.0]),  # Keras' default slope, 0.2
    ],
)
def test_table_7_2_activation_functions(name, s, expected):
    import keras

    values = np.asarray(keras.activations.get(name)(np.array(s, np.float32)))
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)


def test_example_7_5_gradient_descent_steps():
    np.testing.assert_allclose(book.gradient_descent_example(), [0.8, 1.136, 1.4451], atol=5e-5)
