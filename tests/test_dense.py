"""Tests of nnlib.dense: the affine layer, forward and backward, and the two-layer network's loss."""

import numpy as np
import pytest

from nnlib.dense import TWO_LAYER_KEYS, affine_backward, affine_forward, two_layer_loss
from nnlib.gradcheck import check_backward, check_gradient
from nnlib.losses import softmax_cross_entropy
from nnlib.tolerances import GRAD_RTOL

pytestmark = pytest.mark.ch03


def layer(rng, n=4, d=5, m=3, dtype=np.float64):
    return tuple(a.astype(dtype) for a in (rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)))


def test_forward_hand_computed():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    b = np.array([0.5, 0.0, -1.0])
    out, _ = affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[5.5, 2.0, -2.0], [11.5, 4.0, -4.0]])


def test_backward_hand_computed():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    _, cache = affine_forward(x, w, np.zeros(3))
    dx, dw, db = affine_backward(np.ones((2, 3)), cache)
    np.testing.assert_array_equal(dx, [[0.0, 3.0], [0.0, 3.0]])  # row sums of w
    np.testing.assert_array_equal(dw, [[4.0, 4.0, 4.0], [6.0, 6.0, 6.0]])  # column sums of x
    np.testing.assert_array_equal(db, [2.0, 2.0, 2.0])  # summed over the batch of 2


@pytest.mark.parametrize("n, d, m", [(4, 5, 3), (1, 3, 1), (6, 2, 7)])
def test_gradient_check_and_shapes(n, d, m, rng):
    x, w, b = layer(rng, n, d, m)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(rng.standard_normal((n, m)), cache)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    errors = check_backward(affine_forward, affine_backward, {"x": x, "w": w, "b": b})
    assert max(errors.values()) < GRAD_RTOL


def test_input_used_as_both_data_and_weight(rng):
    """out = x @ x + b for a square x: the two gradients of x add up."""
    x, b, dout = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal((4, 4))
    _, cache = affine_forward(x, x, b)
    dx_as_data, dx_as_weight, _ = affine_backward(dout, cache)
    check_gradient(lambda v: np.sum(affine_forward(v, v, b)[0] * dout), x, dx_as_data + dx_as_weight)


def test_input_feeding_two_layers(rng):
    """out = affine(x, w1, b1) + affine(x, w2, b2): x fans out to two layers."""
    x, w1, b1 = layer(rng)
    _, w2, b2 = layer(rng)
    dout = rng.standard_normal((4, 3))
    dx1 = affine_backward(dout, affine_forward(x, w1, b1)[1])[0]
    dx2 = affine_backward(dout, affine_forward(x, w2, b2)[1])[0]
    f = lambda v: np.sum((affine_forward(v, w1, b1)[0] + affine_forward(v, w2, b2)[0]) * dout)  # noqa: E731
    check_gradient(f, x, dx1 + dx2)


def test_float32_in_float32_out(rng):
    x, w, b = layer(rng, dtype=np.float32)
    out, cache = affine_forward(x, w, b)
    assert out.dtype == np.float32
    grads = affine_backward(np.ones((4, 3), dtype=np.float32), cache)
    assert [g.dtype for g in grads] == [np.float32] * 3
    # a float64 upstream gradient still gives gradients of each parameter's own dtype
    assert [g.dtype for g in affine_backward(np.ones((4, 3)), cache)] == [np.float32] * 3


def test_inputs_are_not_modified(rng):
    x, w, b = layer(rng)
    dout = rng.standard_normal((4, 3))
    before = [a.copy() for a in (x, w, b, dout)]
    affine_backward(dout, affine_forward(x, w, b)[1])
    for a, c in zip((x, w, b, dout), before):
        np.testing.assert_array_equal(a, c)


def test_large_values_stay_finite(rng, strict_fp):
    x, w, b = (1e4 * a for a in layer(rng))
    out, cache = affine_forward(x, w, b)
    grads = affine_backward(1e4 * np.ones_like(out), cache)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)


def test_wrong_shapes_are_rejected_naming_expected_and_actual(rng):
    x, w, b = layer(rng)  # (4, 5), (5, 3), (3,)
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\) \(2-D\), got shape \(5,\)"):
        affine_forward(x[0], w, b)
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\) \(2-D\), got shape \(4, 5, 1, 1\)"):
        affine_forward(x[:, :, None, None], w, b)  # an image batch must be flattened first
    with pytest.raises(ValueError, match=r"w must have shape \(5, any\), got shape \(3, 5\)"):
        affine_forward(x, w.T, b)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\), got shape \(1, 3\)"):
        affine_forward(x, w, b[None, :])
    _, cache = affine_forward(x, w, b)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\), got shape \(3, 4\)"):
        affine_backward(np.ones((3, 4)), cache)


# ---------------------------------------------------------------- the two-layer network of chapter 3


def network(rng, n=6, d=3, h=5, k=4, dtype=np.float64):
    """(params, x, y) of a two-layer network; biases nonzero so that some hidden units are off."""
    params = {"W1": rng.standard_normal((d, h)), "b1": 0.5 * rng.standard_normal(h),
              "W2": rng.standard_normal((h, k)), "b2": 0.5 * rng.standard_normal(k)}
    params = {key: v.astype(dtype) for key, v in params.items()}
    return params, rng.standard_normal((n, d)).astype(dtype), rng.integers(0, k, n)


def test_two_layer_loss_hand_computed():
    # x = [[1, -1]]: z1 = [1, -1] + b1 = [1, -1], h1 = [1, 0]; scores = h1 @ W2 = [1, 0]
    params = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}
    loss, grads = two_layer_loss(params, np.array([[1.0, -1.0]]), np.array([1]))
    p = np.exp([1.0, 0.0]) / np.sum(np.exp([1.0, 0.0]))  # softmax of the scores
    assert loss == pytest.approx(-np.log(p[1]))
    dscores = p - [0.0, 1.0]
    np.testing.assert_allclose(grads["b2"], dscores)
    np.testing.assert_allclose(grads["W2"], [dscores, [0.0, 0.0]])  # h1.T @ dscores: the second unit is off
    np.testing.assert_allclose(grads["b1"], [dscores[0], 0.0])  # the ReLU blocks the second unit
    np.testing.assert_allclose(grads["W1"], [[dscores[0], 0.0], [-dscores[0], 0.0]])


@pytest.mark.parametrize("n, d, h, k", [(6, 3, 5, 4), (1, 2, 4, 3), (10, 2, 8, 2)])
def test_two_layer_loss_gradient_check_and_shapes(n, d, h, k, rng):
    params, x, y = network(rng, n, d, h, k)
    loss, grads = two_layer_loss(params, x, y)
    assert isinstance(loss, float) and list(grads) == list(TWO_LAYER_KEYS)
    for key in TWO_LAYER_KEYS:
        assert grads[key].shape == params[key].shape and grads[key].dtype == np.float64
        f = lambda v, key=key: two_layer_loss({**params, key: v}, x, y)[0]  # noqa: E731
        assert check_gradient(f, params[key].copy(), grads[key], name=key) < GRAD_RTOL
    check_gradient(lambda v: two_layer_loss(params, v, y)[0], x, _input_gradient(params, x, y), name="x")


def _input_gradient(params, x, y):
    """dJ/dx by the same backward pass one layer further (two_layer_loss does not return it)."""
    z1, cache1 = affine_forward(x, params["W1"], params["b1"])
    scores, cache2 = affine_forward(np.maximum(z1, 0), params["W2"], params["b2"])
    dh1 = affine_backward(softmax_cross_entropy(scores, y)[1], cache2)[0]
    return affine_backward(dh1 * (z1 > 0), cache1)[0]


def test_two_layer_loss_with_one_weight_in_both_layers(rng):
    """W1 and W2 the same (square) array: its gradient is the sum of the two layers' gradients."""
    params, x, y = network(rng, n=6, d=4, h=4, k=4)
    shared = params["W1"]
    _, grads = two_layer_loss({**params, "W2": shared}, x, y)
    f = lambda v: two_layer_loss({**params, "W1": v, "W2": v}, x, y)[0]  # noqa: E731
    assert check_gradient(f, shared.copy(), grads["W1"] + grads["W2"], name="shared W") < GRAD_RTOL


def test_two_layer_loss_float32_in_float32_out(rng):
    params, x, y = network(rng, dtype=np.float32)
    loss, grads = two_layer_loss(params, x, y)
    assert isinstance(loss, float) and all(g.dtype == np.float32 for g in grads.values())
    params64 = {key: v.astype(np.float64) for key, v in params.items()}
    loss64, grads64 = two_layer_loss(params64, x.astype(np.float64), y)
    assert loss == pytest.approx(loss64, rel=1e-5)
    for key in TWO_LAYER_KEYS:
        np.testing.assert_allclose(grads[key], grads64[key], rtol=1e-4, atol=1e-6)


def test_two_layer_loss_leaves_its_inputs_alone(rng):
    params, x, y = network(rng)
    given = dict(params)
    before = {key: v.copy() for key, v in params.items()}, x.copy(), y.copy()
    _, grads = two_layer_loss(params, x, y)
    assert grads is not params and all(params[key] is given[key] for key in TWO_LAYER_KEYS)
    for key in TWO_LAYER_KEYS:
        np.testing.assert_array_equal(params[key], before[0][key])
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(y, before[2])


def test_two_layer_loss_names_the_wrong_parameter(rng):
    params, x, y = network(rng)  # D = 3, H = 5, K = 4
    with pytest.raises(ValueError, match=r"params must be a dict with the keys W1, b1, W2, b2, got keys \['W1', 'b1'\]"):
        two_layer_loss({"W1": params["W1"], "b1": params["b1"]}, x, y)
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(3, any\), got shape \(5, 3\)"):
        two_layer_loss({**params, "W1": params["W1"].T}, x, y)
    with pytest.raises(ValueError, match=r"params\['W2'\] must have shape \(5, any\), got shape \(4, 5\)"):
        two_layer_loss({**params, "W2": params["W2"].T}, x, y)
    with pytest.raises(ValueError, match=r"params\['b2'\] must have shape \(4,\), got shape \(1, 4\)"):
        two_layer_loss({**params, "b2": params["b2"][None]}, x, y)
    with pytest.raises(ValueError, match=r"y must have shape \(6,\), got shape \(5,\)"):
        two_layer_loss(params, x, y[:5])
