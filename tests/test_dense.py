"""Tests of nnlib.dense: the affine layer, forward and backward."""

import numpy as np
import pytest

from nnlib.dense import affine_backward, affine_forward
from nnlib.gradcheck import check_backward, check_gradient
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
