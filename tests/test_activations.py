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


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_backward_passes_gradient_check(axis, rng):
    check_backward(lambda x: act.softmax_forward(x, axis=axis), act.softmax_backward, {"x": rng.standard_normal((4, 5))})


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax_backward_passes_gradient_check(axis, rng):
    check_backward(lambda x: act.log_softmax_forward(x, axis=axis), act.log_softmax_backward, {"x": rng.standard_normal((4, 5))})


def test_softmax_backward_along_a_middle_axis_of_a_3d_array(rng):
    # the cache carries the axis: the backward sums over the axis the forward normalised
    check_backward(lambda x: act.softmax_forward(x, axis=1), act.softmax_backward, {"x": rng.standard_normal((2, 3, 4))})


def test_softmax_backward_with_input_used_twice(rng):
    """f(x) = softmax(x) * x."""
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    s, cache = act.softmax_forward(x)
    dx = act.softmax_backward(dout * x, cache) + dout * s
    check_gradient(lambda v: np.sum(act.softmax(v) * v * dout), x, dx, name="softmax(x) * x")


@pytest.mark.parametrize("pair", ["softmax", "log_softmax"])
def test_softmax_forwards_return_the_plain_functions_value_and_a_cache(pair, rng):
    x = rng.standard_normal((3, 4))
    plain, forward = getattr(act, pair), getattr(act, f"{pair}_forward")
    out, cache = forward(x, axis=0)
    np.testing.assert_array_equal(out, plain(x, axis=0))
    assert cache is not None


@pytest.mark.parametrize("pair, output", [("softmax", "the probabilities s"), ("log_softmax", "log_s")])
def test_softmax_backwards_take_the_cache_not_the_output(pair, output, rng):
    """The old signatures softmax_backward(dout, s) and log_softmax_backward(dout, log_s) are refused
    with a sentence, never silently misread (a 2-row ``s`` would unpack as a pair)."""
    out, _ = getattr(act, f"{pair}_forward")(rng.standard_normal((2, 3)))
    backward = getattr(act, f"{pair}_backward")
    with pytest.raises(TypeError, match=f"takes the cache that {pair}_forward.*got an array of shape \\(2, 3\\).*not {output}"):
        backward(np.ones((2, 3)), out)


# ---------------------------------------------------------------- dtype, shapes, inputs

ALL_ELEMENTWISE = [f for pair in act.ELEMENTWISE.values() for f in pair]


@pytest.mark.parametrize("f", ALL_ELEMENTWISE + [act.softmax, act.log_softmax, lambda x: act.softmax_forward(x)[0],
                               lambda x: act.log_softmax_forward(x)[0]], ids=lambda f: f.__name__)
def test_dtype_and_shape_preserved_and_input_unchanged(f, rng):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((3, 4)).astype(dtype)
        before = x.copy()
        out = f(x)
        assert out.dtype == dtype and out.shape == x.shape
        np.testing.assert_array_equal(x, before)
    assert f(np.array([[1, -2]])).dtype == np.float64  # integers become float64


LAYERS = [
    ("tanh", lambda x: act.elementwise_forward(x, "tanh"), act.elementwise_backward),
    ("leaky_relu", lambda x: act.elementwise_forward(x, "leaky_relu", slope=0.2), act.elementwise_backward),
    ("softmax", act.softmax_forward, act.softmax_backward),
    ("log_softmax", act.log_softmax_forward, act.log_softmax_backward),
]


@pytest.mark.parametrize("name, forward, backward", LAYERS, ids=[layer[0] for layer in LAYERS])
@pytest.mark.parametrize("x_dtype, dout_dtype", [(np.float32, np.float32), (np.float32, np.float64),
                                                 (np.float64, np.float32), (np.float64, np.float64)])
def test_every_backward_returns_the_dtype_of_its_forwards_input(name, forward, backward, x_dtype, dout_dtype, rng):
    """nnlib's rule: dx has the dtype of x, whatever the dtype of dout (float32 activations may well
    receive a float64 gradient from a float64 loss)."""
    x = rng.standard_normal((2, 3)).astype(x_dtype)
    out, cache = forward(x)
    assert out.dtype == x_dtype
    dx = backward(rng.standard_normal((2, 3)).astype(dout_dtype), cache)
    assert dx.dtype == x_dtype and dx.shape == x.shape


@pytest.mark.parametrize("name, forward, backward", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_backwards_leave_dout_and_the_forward_output_unchanged(name, forward, backward, rng):
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out, cache = forward(x)
    out_before, dout_before, x_before = out.copy(), dout.copy(), x.copy()
    backward(dout, cache)
    np.testing.assert_array_equal(out, out_before)
    np.testing.assert_array_equal(dout, dout_before)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("name, forward, backward", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_backwards_reject_a_dout_of_another_shape(name, forward, backward, rng):
    _, cache = forward(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(2, 3\)"):
        backward(np.ones((3, 2)), cache)


def test_elementwise_forward_accepts_a_list_and_its_backward_keeps_float64():
    out, cache = act.elementwise_forward([[1, -2]], "relu")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(act.elementwise_backward(np.ones((1, 2)), cache), [[1.0, 0.0]])


def test_unknown_activation_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="'relu'"):
        act.elementwise_forward(np.zeros(2), "rectifier")


@pytest.mark.parametrize("name, options, message", [
    ("relu", {"slope": 0.1}, "relu has no option 'slope'; it accepts no options"),
    ("leaky_relu", {"alpha": 1.0}, "leaky_relu has no option 'alpha'; it accepts slope"),
    ("elu", {"slope": 0.1}, "elu has no option 'slope'; it accepts alpha"),
])
def test_an_option_the_activation_does_not_have_is_a_value_error(name, options, message):
    # before: a TypeError from deep inside the activation ("unexpected keyword argument")
    with pytest.raises(ValueError, match=message):
        act.elementwise_forward(np.zeros(2), name, **options)


@pytest.mark.parametrize("f", [act.softmax, act.log_softmax, act.softmax_forward, act.log_softmax_forward],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [None, 1.0, (0, 1), True, 2, -3])
def test_an_axis_that_is_not_one_of_xs_is_a_value_error(f, axis):
    # before: axis=None or (0, 1) silently normalised the whole array, 1.0 raised a TypeError
    with pytest.raises(ValueError, match="axis must be"):
        f(np.zeros((2, 3)), axis=axis)


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
    _, cache = act.log_softmax_forward(x)
    dx = act.log_softmax_backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(dx)) and dx.dtype == dtype
    _, cache = act.softmax_forward(x)
    dx = act.softmax_backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(dx)) and dx.dtype == dtype
