"""Tests of the gradient checker itself: it must pass correct gradients and reject wrong ones."""

import re

import numpy as np
import pytest

from nnlib.gradcheck import (
    GradientCheckError,
    check_backward,
    check_gradient,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)
from nnlib.tolerances import ABS_FLOOR, GRAD_RTOL

pytestmark = pytest.mark.ch03


def matmul_forward(x, w):
    return x @ w, (x, w)


def matmul_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout


# ---------------------------------------------------------------- rel_error


def test_rel_error_hand_computed():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # max|a - e| = 0.5, largest magnitude 4
    assert rel_error(np.array([4.0, -1.0]), np.array([4.0, -1.5])) == pytest.approx(0.125)


def test_rel_error_is_scale_free_above_the_floor_and_absolute_below():
    e, a = np.array([1.0, 3.0]), np.array([1.0, 3.003])
    assert rel_error(e * 1e6, a * 1e6) == pytest.approx(rel_error(e, a))
    tiny = ABS_FLOOR / 100
    assert rel_error(np.array([tiny]), np.array([2 * tiny])) == pytest.approx(tiny / ABS_FLOOR)


@pytest.mark.parametrize("shapes", [((3,), (1, 3)), ((3,), ()), ((2, 3), (3, 2))])
def test_rel_error_rejects_shape_mismatch_instead_of_broadcasting(shapes):
    a, b = np.zeros(shapes[0]), np.zeros(shapes[1])
    with pytest.raises(ValueError, match=re.escape(f"{a.shape} and {b.shape}")):
        rel_error(a, b)


def test_rel_error_of_nan_is_nan():
    assert np.isnan(rel_error(np.array([1.0]), np.array([np.nan])))


# ---------------------------------------------------------------- numerical gradients


def test_numerical_gradient_matches_analytic_cubic(rng):
    x = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_error(3 * x**2, grad) < GRAD_RTOL


def test_numerical_gradient_restores_x_after_use(rng):
    x = rng.standard_normal(5)
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises(rng):
    x = rng.standard_normal((2, 3))
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:  # the second element, perturbed downwards
            raise ArithmeticError("boom")
        return np.sum(v)

    with pytest.raises(ArithmeticError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_rejects_integer_arrays_and_a_bad_step():
    with pytest.raises(TypeError):
        numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(ValueError, match="step must be > 0, got 0"):
        numerical_gradient(np.sum, np.zeros(3), step=0)


@pytest.mark.parametrize("view", ["transposed", "sliced"])
def test_numerical_gradient_of_a_non_contiguous_view_perturbs_the_callers_array(view, rng):
    # A flattened x.reshape(-1) of such a view is a copy: perturbing it would leave f(x) unchanged.
    base = rng.standard_normal((4, 6))
    x = base.T if view == "transposed" else base[:, ::2]
    before = base.copy()
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    assert grad.shape == x.shape
    assert rel_error(3 * x**2, grad) < GRAD_RTOL
    np.testing.assert_array_equal(base, before)


def test_numerical_gradient_uses_the_step_it_is_given(rng):
    # The truncation error of the central difference is h**2 / 6 * f''': with h = 0.1 it shows.
    x = rng.standard_normal(5)
    grad = numerical_gradient(lambda v: np.sum(np.sin(v)), x, step=0.1)
    np.testing.assert_allclose(grad, (np.sin(x + 0.1) - np.sin(x - 0.1)) / 0.2, rtol=1e-9)
    assert rel_error(np.cos(x), grad) > 1e-4


def test_numerical_gradient_array_is_the_vector_jacobian_product(rng):
    a = rng.standard_normal((3, 4))
    x, dout = rng.standard_normal(4), rng.standard_normal(3)
    grad = numerical_gradient_array(lambda v: a @ v, x, dout)
    assert rel_error(a.T @ dout, grad) < GRAD_RTOL


# ---------------------------------------------------------------- check_gradient


def test_check_gradient_passes_a_correct_gradient(rng):
    x = rng.standard_normal(6)
    assert check_gradient(lambda v: np.sum(v**2), x, 2 * x) < GRAD_RTOL


def test_check_gradient_rejects_missing_factor_2_naming_function_and_worst_index():
    x = np.array([0.5, -3.0, 1.0])  # error |2x - x| is largest at index 1
    with pytest.raises(GradientCheckError) as info:
        check_gradient(lambda v: np.sum(v**2), x, x, name="square")
    message = str(info.value)
    assert message.startswith("square:")
    assert "index (1,)" in message
    assert "numerical -6" in message and "analytic -3" in message


def test_check_gradient_rejects_wrong_shape_and_nan(rng):
    x = rng.standard_normal(4)
    with pytest.raises(GradientCheckError, match=r"shape \(1, 4\), expected \(4,\)"):
        check_gradient(lambda v: np.sum(v**2), x, (2 * x)[None, :])
    with pytest.raises(GradientCheckError):
        check_gradient(lambda v: np.sum(v**2), x, np.full(4, np.nan))


def test_check_gradient_fails_with_a_far_too_large_step(rng):
    x = rng.uniform(-2, 2, 5)
    f = lambda v: np.sum(np.sin(3 * v))  # noqa: E731
    assert check_gradient(f, x, 3 * np.cos(3 * x)) < GRAD_RTOL
    with pytest.raises(GradientCheckError):
        check_gradient(f, x, 3 * np.cos(3 * x), step=0.5)


def test_check_gradient_does_not_modify_float32_input(rng):
    x = rng.standard_normal(4).astype(np.float32)
    before = x.copy()
    check_gradient(lambda v: np.sum(v**2), x, 2 * x.astype(np.float64))
    np.testing.assert_array_equal(x, before)
    assert x.dtype == np.float32


# ---------------------------------------------------------------- check_backward


def test_check_backward_passes_a_correct_backward(rng):
    inputs = {"x": rng.standard_normal((3, 4)), "w": rng.standard_normal((4, 2))}
    before = {k: v.copy() for k, v in inputs.items()}
    errors = check_backward(matmul_forward, matmul_backward, inputs)
    assert set(errors) == {"x", "w"} and max(errors.values()) < GRAD_RTOL
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], before[k])


def test_check_backward_rejects_transposed_weight_gradient_naming_function_argument_and_index(rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))  # square w: a transpose keeps the shape

    def transposed_backward(dout, cache):
        dx, dw = matmul_backward(dout, cache)
        return dx, dw.T

    with pytest.raises(GradientCheckError) as info:
        check_backward(matmul_forward, transposed_backward, {"x": x, "w": w})
    message = str(info.value)
    assert message.startswith("matmul_forward, d/dw:")
    # recompute the worst index independently, with the same upstream gradient (seed 0)
    dout = np.random.default_rng(0).standard_normal((3, 4))
    right = x.T @ dout
    i, j = np.unravel_index(np.argmax(np.abs(right.T - right)), right.shape)
    # |dw.T - dw| is symmetric, so the worst element is (i, j) or its mirror (j, i)
    assert f"index ({i}, {j})" in message or f"index ({j}, {i})" in message


def test_check_backward_rejects_missing_factor_2():
    def square_forward(x):
        return x**2, x

    def wrong_backward(dout, x):
        return dout * x  # should be 2 * x * dout

    with pytest.raises(GradientCheckError, match=r"^square, d/dx: relative error .* index \("):
        check_backward(square_forward, wrong_backward, {"x": np.array([1.0, -2.0, 3.0])}, name="square")


def test_check_backward_fails_with_a_far_too_large_step(rng):
    def tanh_forward(x):
        out = np.tanh(x)
        return out, out

    def tanh_backward(dout, out):
        return dout * (1 - out**2)

    inputs = {"x": rng.uniform(-1, 1, 6)}
    assert check_backward(tanh_forward, tanh_backward, inputs)["x"] < GRAD_RTOL
    with pytest.raises(GradientCheckError, match="tanh_forward, d/dx"):
        check_backward(tanh_forward, tanh_backward, inputs, step=0.3)


def test_check_backward_rejects_wrong_count_and_wrong_shape(rng):
    inputs = {"x": rng.standard_normal((3, 4)), "w": rng.standard_normal((4, 2))}
    with pytest.raises(GradientCheckError, match=r"returned 1 gradients, expected 2 \(x, w\)"):
        check_backward(matmul_forward, lambda dout, cache: (matmul_backward(dout, cache)[0],), inputs)
    with pytest.raises(GradientCheckError, match=r"gradient with respect to w has shape \(2, 4\), expected \(4, 2\)"):
        check_backward(
            matmul_forward, lambda dout, cache: (matmul_backward(dout, cache)[0], matmul_backward(dout, cache)[1].T), inputs
        )
