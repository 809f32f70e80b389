"""Tests of nnlib.activations: values, derivatives against central differences, stability."""

import numpy as np
import pytest

from nnlib import activations as act
from nnlib.gradcheck import check_backward, check_gradient
from nnlib.tolerances import GRAD_RTOL, MATCH_RTOL

pytestmark = pytest.mark.ch01

NAMES = sorted(act.ELEMENTWISE)
LARGE = np.array([-1e4, -1e3, 1e3, 1e4])


def away_from_kinks(rng, shape):
    """Values with 0.2 <= |x| <= 3: relu, leaky relu and elu have a kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 3.0, size=shape)


# ---------------------------------------------------------------- hand-computed values

HAND = [
    (act.sigmoid, [0.0, np.log(3.0)], [0.5, 0.75]),
    (act.sigmoid_derivative, [0.0, np.log(3.0)], [0.25, 0.1875]),
    (act.tanh, [0.0, np.log(2.0)], [0.0, 0.6]),  # (2 - 1/2) / (2 + 1/2)
    (act.tanh_derivative, [0.0, np.log(2.0)], [1.0, 0.64]),
    (act.relu, [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
    (act.relu_derivative, [-2.0, 0.0, 3.0], [0.0, 0.0, 1.0]),
    (act.leaky_relu, [-2.0, 3.0], [-0.02, 3.0]),
    (act.leaky_relu_derivative, [-2.0, 3.0], [0.01, 1.0]),
    (act.elu, [-np.log(2.0), 3.0], [-0.5, 3.0]),
    (act.elu_derivative, [-np.log(2.0), 3.0], [0.5, 1.0]),
    (act.softplus, [0.0, np.log(3.0)], [np.log(2.0), np.log(4.0)]),
    (act.softplus_derivative, [0.0, np.log(3.0)], [0.5, 0.75]),
]


@pytest.mark.parametrize("f, x, expected", HAND, ids=[h[0].__name__ for h in HAND])
def test_hand_computed_values(f, x, expected):
    np.testing.assert_allclose(f(np.array(x)), np.array(expected), rtol=MATCH_RTOL, atol=1e-15, strict=True)


def test_parameters_change_the_negative_side():
    np.testing.assert_allclose(act.leaky_relu(np.array([-2.0]), slope=0.2), [-0.4])
    np.testing.assert_allclose(act.elu(np.array([-np.log(2.0)]), alpha=3.0), [-1.5])
    np.testing.assert_allclose(act.elu_derivative(np.array([-np.log(2.0)]), alpha=3.0), [1.5])


def test_softmax_and_log_softmax_hand_computed():
    x = np.array([[0.0, np.log(3.0)], [np.log(2.0), np.log(2.0)]])
    np.testing.assert_allclose(act.softmax(x), [[0.25, 0.75], [0.5, 0.5]], rtol=MATCH_RTOL)
    np.testing.assert_allclose(act.log_softmax(x), np.log([[0.25, 0.75], [0.5, 0.5]]), rtol=MATCH_RTOL)
    # axis=0 normalises the columns instead
    np.testing.assert_allclose(act.softmax(x.T, axis=0), [[0.25, 0.5], [0.75, 0.5]], rtol=MATCH_RTOL)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", NAMES)
def test_elementwise_backward_passes_gradient_check(name, rng):
    x = away_from_kinks(rng, (4, 5))
    errors = check_backward(
        lambda v: act.elementwise_forward(v, name), act.elementwise_backward, {"x": x}, name=name
    )
    assert errors["x"] < GRAD_RTOL


@pytest.mark.parametrize("name", NAMES)
def test_elementwise_backward_with_input_used_twice(name, rng):
    """f(x) = act(x) * x: x reaches the output along two paths whose gradients add up."""
    x, dout = away_from_kinks(rng, (3, 4)), rng.standard_normal((3, 4))
    a, cache = act.elementwise_forward(x, name)
    dx = act.elementwise_backward(dout * x, cache) + dout * a
    check_gradient(lambda v: np.sum(act.elementwise_forward(v, name)[0] * v * dout), x, dx, name=name)


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_elementwise_backward_uses_the_parameters(name, rng):
    x = away_from_kinks(rng, (3, 4))
    params = {"leaky_relu": {"slope": 0.3}, "elu": {"alpha": 2.5}}[name]
    check_backward(lambda v: act.elementwise_forward(v, name, **params), act.elementwise_backward, {"x": x})


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_backward_passes_gradient_check(axis, rng):
    def forward(x):
        s = act.softmax(x, axis=axis)
        return s, s

    check_backward(forward, lambda dout, s: act.softmax_backward(dout, s, axis=axis), {"x": rng.standard_normal((4, 5))})


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_backward_passes_gradient_check(axis, rng):
    def forward(x):
        log_s = act.log_softmax(x, axis=axis)
        return log_s, log_s

    check_backward(
        forward, lambda dout, log_s: act.log_softmax_backward(dout, log_s, axis=axis), {"x": rng.standard_normal((4, 5))}
    )


def test_softmax_backward_with_input_used_twice(rng):
    """f(x) = softmax(x) * x."""
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    s = act.softmax(x)
    dx = act.softmax_backward(dout * x, s) + dout * s
    check_gradient(lambda v: np.sum(act.softmax(v) * v * dout), x, dx, name="softmax(x) * x")


# ---------------------------------------------------------------- dtype, shapes, inputs

ALL_ELEMENTWISE = [f for pair in act.ELEMENTWISE.values() for f in pair]


@pytest.mark.parametrize("f", ALL_ELEMENTWISE + [act.softmax, act.log_softmax], ids=lambda f: f.__name__)
def test_dtype_and_shape_preserved_and_input_unchanged(f, rng):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((3, 4)).astype(dtype)
        before = x.copy()
        out = f(x)
        assert out.dtype == dtype and out.shape == x.shape
        np.testing.assert_array_equal(x, before)
    assert f(np.array([[1, -2]])).dtype == np.float64  # integers become float64


def test_backward_helpers_preserve_float32_and_reject_shape_mismatch(rng):
    s = act.softmax(rng.standard_normal((2, 3)).astype(np.float32))
    dout = np.ones((2, 3), dtype=np.float32)
    assert act.softmax_backward(dout, s).dtype == np.float32
    assert act.log_softmax_backward(dout, np.log(s)).dtype == np.float32
    _, cache = act.elementwise_forward(np.ones((2, 3), dtype=np.float32), "tanh")
    assert act.elementwise_backward(dout, cache).dtype == np.float32
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(2, 3\)"):
        act.softmax_backward(dout.T, s)
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(2, 3\)"):
        act.elementwise_backward(dout.T, cache)


def test_unknown_activation_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="'relu'"):
        act.elementwise_forward(np.zeros(2), "rectifier")


# ---------------------------------------------------------------- properties on random inputs


def test_softmax_rows_are_distributions_and_shift_invariant(rng):
    x = 5 * rng.standard_normal((50, 7))
    s = act.softmax(x)
    assert np.all(s > 0) and np.all(s <= 1)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=MATCH_RTOL)
    np.testing.assert_allclose(act.softmax(x + rng.standard_normal((50, 1)) * 100), s, rtol=1e-12, atol=1e-15)


def test_log_softmax_is_log_of_softmax(rng):
    x = 5 * rng.standard_normal((50, 7))
    np.testing.assert_allclose(act.log_softmax(x), np.log(act.softmax(x)), rtol=1e-12, atol=1e-12)


def test_symmetries(rng):
    x = 10 * rng.standard_normal(200)
    np.testing.assert_allclose(act.sigmoid(-x), 1 - act.sigmoid(x), atol=1e-15)
    np.testing.assert_allclose(act.tanh(-x), -act.tanh(x), atol=0)
    np.testing.assert_allclose(act.softplus(x) - act.softplus(-x), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.tanh(x), 2 * act.sigmoid(2 * x) - 1, atol=1e-15)


def test_sigmoid_derivative_never_exceeds_a_quarter():
    x = np.concatenate([np.linspace(-50, 50, 100_001), LARGE, [0.0, np.finfo(float).tiny]])
    d = act.sigmoid_derivative(x)
    assert np.all(d <= 0.25) and np.all(d >= 0)
    assert d.max() == 0.25  # attained at x = 0
    assert np.all(act.tanh_derivative(x) <= 1.0)


# ---------------------------------------------------------------- stability at large magnitudes

LIMITS = {
    # name: expected values at LARGE = [-1e4, -1e3, 1e3, 1e4]
    "sigmoid": [0.0, 0.0, 1.0, 1.0],
    "sigmoid_derivative": [0.0, 0.0, 0.0, 0.0],
    "tanh": [-1.0, -1.0, 1.0, 1.0],
    "tanh_derivative": [0.0, 0.0, 0.0, 0.0],
    "relu": [0.0, 0.0, 1e3, 1e4],
    "relu_derivative": [0.0, 0.0, 1.0, 1.0],
    "leaky_relu": [-100.0, -10.0, 1e3, 1e4],
    "leaky_relu_derivative": [0.01, 0.01, 1.0, 1.0],
    "elu": [-1.0, -1.0, 1e3, 1e4],
    "elu_derivative": [0.0, 0.0, 1.0, 1.0],
    "softplus": [0.0, 0.0, 1e3, 1e4],
    "softplus_derivative": [0.0, 0.0, 1.0, 1.0],
}


@pytest.mark.parametrize("name", sorted(LIMITS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_give_the_limits_without_overflow(name, dtype, strict_fp):
    out = getattr(act, name)(LARGE.astype(dtype))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, np.array(LIMITS[name], dtype=dtype), rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_of_large_logits(dtype, strict_fp):
    x = np.array([[1e4, -1e4, 1e3], [-1e3, -1e4, -1e3]], dtype=dtype)
    np.testing.assert_allclose(act.softmax(x), [[1.0, 0.0, 0.0], [0.5, 0.0, 0.5]], atol=1e-30)
    log_s = act.log_softmax(x)
    assert np.all(np.isfinite(log_s))
    np.testing.assert_allclose(log_s, [[0.0, -2e4, -9e3], [-np.log(2), -9e3 - np.log(2), -np.log(2)]], rtol=1e-6)
    dx = act.log_softmax_backward(np.ones_like(x), log_s)
    assert np.all(np.isfinite(dx))
