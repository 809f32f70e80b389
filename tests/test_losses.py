"""Tests of nnlib.losses: values, gradients against central differences, stability, validation."""

import numpy as np
import pytest

from nnlib import losses
from nnlib.activations import sigmoid, sigmoid_derivative, softmax
from nnlib.gradcheck import check_gradient
from nnlib.tolerances import GRAD_RTOL, MATCH_RTOL

pytestmark = pytest.mark.ch02


def binary_data(rng, shape=(4, 3)):
    """Probabilities kept away from 0 and 1 (where clipping starts), hard and soft targets."""
    prob = rng.uniform(0.05, 0.95, shape)
    target = rng.integers(0, 2, shape).astype(float)
    target[0] = rng.uniform(0, 1, shape[1:])  # one row of soft targets
    return prob, target


def class_data(rng, n=5, k=4):
    return rng.standard_normal((n, k)), rng.integers(0, k, n)


# Each case: (name, function of the prediction only, prediction)
def loss_cases(rng):
    prob, target = binary_data(rng)
    logits, y = class_data(rng)
    pred, regression_target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    return {
        "mse": (lambda p: losses.mse(p, regression_target), pred),
        "binary_cross_entropy": (lambda p: losses.binary_cross_entropy(p, target), prob),
        "binary_cross_entropy_with_logits": (
            lambda z: losses.binary_cross_entropy_with_logits(z, target),
            rng.standard_normal((4, 3)) * 3,
        ),
        "softmax_cross_entropy": (lambda z: losses.softmax_cross_entropy(z, y), logits),
        "mse_on_sigmoid": (lambda z: losses.mse_on_sigmoid(z, target), rng.standard_normal((4, 3)) * 3),
    }


NAMES = ["mse", "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy", "mse_on_sigmoid"]


# ---------------------------------------------------------------- hand-computed values


def test_mse_hand_computed():
    loss, grad = losses.mse(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert loss == pytest.approx((0 + 4 + 9 + 16) / 4)
    np.testing.assert_allclose(grad, [[0.0, 1.0], [1.5, 2.0]], rtol=MATCH_RTOL)  # 2 * diff / 4


def test_binary_cross_entropy_hand_computed():
    loss, grad = losses.binary_cross_entropy(np.array([0.8, 0.25]), np.array([1.0, 0.0]))
    assert loss == pytest.approx(-(np.log(0.8) + np.log(0.75)) / 2, rel=MATCH_RTOL)
    np.testing.assert_allclose(grad, [-1 / 0.8 / 2, 1 / 0.75 / 2], rtol=MATCH_RTOL)


def test_mse_on_sigmoid_hand_computed():
    loss, grad = losses.mse_on_sigmoid(np.array([0.0, np.log(3.0)]), np.array([1.0, 0.0]))
    # sigmoid: 1/2 and 3/4; errors -1/2 and 3/4; s (1 - s): 1/4 and 3/16
    assert loss == pytest.approx((0.25 + 0.5625) / 2, rel=MATCH_RTOL)
    np.testing.assert_allclose(grad, [2 * -0.5 * 0.25 / 2, 2 * 0.75 * 3 / 16 / 2], rtol=MATCH_RTOL)


def test_binary_cross_entropy_with_logits_hand_computed():
    z = np.array([np.log(3.0), np.log(3.0)])  # sigmoid = 0.75
    loss, grad = losses.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0]))
    assert loss == pytest.approx(-(np.log(0.75) + np.log(0.25)) / 2, rel=MATCH_RTOL)
    np.testing.assert_allclose(grad, [-0.25 / 2, 0.75 / 2], rtol=MATCH_RTOL)


def test_softmax_cross_entropy_hand_computed():
    logits = np.array([[0.0, np.log(3.0)], [np.log(2.0), np.log(2.0)], [0.0, np.log(3.0)]])
    loss, grad = losses.softmax_cross_entropy(logits, np.array([0, 1, 1]))
    assert loss == pytest.approx(-(np.log(0.25) + np.log(0.5) + np.log(0.75)) / 3, rel=MATCH_RTOL)
    expected = np.array([[0.25 - 1, 0.75], [0.5, 0.5 - 1], [0.25, 0.75 - 1]]) / 3
    np.testing.assert_allclose(grad, expected, rtol=MATCH_RTOL)


def test_uniform_logits_cost_log_k(rng):
    loss, _ = losses.softmax_cross_entropy(np.full((6, 10), 3.7), rng.integers(0, 10, 6))
    assert loss == pytest.approx(np.log(10), rel=MATCH_RTOL)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", NAMES)
def test_gradient_check(name, rng):
    f, pred = loss_cases(rng)[name]
    loss, grad = f(pred)
    assert isinstance(loss, float)
    assert grad.shape == pred.shape and grad.dtype == np.float64
    assert check_gradient(lambda p: f(p)[0], pred, grad, name=name) < GRAD_RTOL


def test_mse_with_prediction_used_as_target_too(rng):
    """mse(p, 0.5 * p + 1): p reaches the loss as prediction and (shifted) as target."""
    p = rng.standard_normal((3, 4))
    _, g = losses.mse(p, 0.5 * p + 1)
    # d loss / d target = -g, and d target / d p = 0.5
    check_gradient(lambda v: losses.mse(v, 0.5 * v + 1)[0], p, g - 0.5 * g, name="mse(p, 0.5 p + 1)")


def test_binary_cross_entropy_with_logits_used_twice(rng):
    """bce_logits(z, sigmoid(z)); the loss is linear in the target with slope -z / size."""
    z = 3 * rng.standard_normal(7)
    _, g = losses.binary_cross_entropy_with_logits(z, sigmoid(z))
    dz = g + (-z / z.size) * sigmoid_derivative(z)
    check_gradient(lambda v: losses.binary_cross_entropy_with_logits(v, sigmoid(v))[0], z, dz)


def test_softmax_cross_entropy_with_logits_used_twice(rng):
    """softmax_cross_entropy(z * z): the product rule adds the two paths, 2 z * grad."""
    z, y = class_data(rng)
    _, g = losses.softmax_cross_entropy(z * z, y)
    check_gradient(lambda v: losses.softmax_cross_entropy(v * v, y)[0], z, 2 * z * g)


# ---------------------------------------------------------------- dtype and inputs


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name, rng):
    f, pred = loss_cases(rng)[name]
    loss, grad = f(pred.astype(np.float32))
    assert isinstance(loss, float)
    assert grad.dtype == np.float32 and grad.shape == pred.shape
    _, grad64 = f(pred)
    np.testing.assert_allclose(grad, grad64, rtol=1e-5, atol=1e-7)


def test_inputs_are_not_modified(rng):
    prob, target = binary_data(rng)
    prob[0, :2] = 0.0, 1.0  # clipping must not write back into the caller's array
    logits, y = class_data(rng)
    arrays = [prob, target, logits, y]
    before = [a.copy() for a in arrays]
    losses.mse(prob, target)
    losses.binary_cross_entropy(prob, target)
    losses.binary_cross_entropy(prob.astype(np.float32), target)
    losses.binary_cross_entropy_with_logits(logits[:4, :3], target)
    losses.softmax_cross_entropy(logits, y)
    losses.mse_on_sigmoid(logits[:4, :3], target)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- properties on random inputs


def test_with_logits_agrees_with_probabilities_for_moderate_logits(rng):
    z = rng.uniform(-8, 8, (20, 3))
    _, target = binary_data(rng, (20, 3))
    loss_z, grad_z = losses.binary_cross_entropy_with_logits(z, target)
    loss_p, grad_p = losses.binary_cross_entropy(sigmoid(z), target)
    # log(1 - sigmoid(z)) loses ~ eps / (1 - sigmoid(8)) ~ 1e-13 relative; 1e-10 leaves margin
    assert loss_z == pytest.approx(loss_p, rel=1e-10)
    np.testing.assert_allclose(grad_p * sigmoid_derivative(z), grad_z, rtol=1e-10)


def test_softmax_cross_entropy_properties(rng):
    z, y = class_data(rng, n=50, k=6)
    z *= 4
    loss, grad = losses.softmax_cross_entropy(z, y)
    assert loss > 0
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-16)  # softmax and one-hot both sum to 1
    assert np.all(grad[np.arange(50), y] < 0)  # the true class is pushed up, all others down
    shifted, _ = losses.softmax_cross_entropy(z + 100 * rng.standard_normal((50, 1)), y)
    assert shifted == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(grad * 50 + np.eye(6)[y], softmax(z), rtol=1e-12, atol=1e-15)


def test_mse_is_zero_only_at_the_target(rng):
    t = rng.standard_normal(5)
    assert losses.mse(t, t) == (0.0, pytest.approx(np.zeros(5)))
    assert losses.mse(t + 1e-3, t)[0] > 0


# ---------------------------------------------------------------- stability at large magnitudes


@pytest.mark.parametrize("scale", [1e3, 1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_of_huge_logits(scale, dtype, strict_fp):
    logits = np.array([[scale, 0.0, -scale]] * 3, dtype=dtype)
    loss, grad = losses.softmax_cross_entropy(logits, np.array([0, 1, 2]))
    assert loss == pytest.approx((0 + scale + 2 * scale) / 3, rel=1e-6)
    expected = np.array([[0, 0, 0], [1, -1, 0], [1, 0, -1]]) / 3
    np.testing.assert_allclose(grad, expected, atol=1e-7)


@pytest.mark.parametrize("scale", [1e3, 1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_huge_logits(scale, dtype, strict_fp):
    z = np.array([scale, scale, -scale, -scale], dtype=dtype)
    loss, grad = losses.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0, 1.0, 0.0], dtype=dtype))
    assert loss == pytest.approx(2 * scale / 4, rel=1e-6)  # only the two wrong answers cost |z|
    np.testing.assert_allclose(grad, np.array([0.0, 1.0, -1.0, 0.0]) / 4, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_of_certain_probabilities_is_finite(dtype, strict_fp):
    prob = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    loss, grad = losses.binary_cross_entropy(prob, np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    e = losses.clip_epsilon(1e-12, np.dtype(dtype))  # 1e-12, or float32's machine epsilon
    # two confidently wrong answers cost -log(e) each (27.6, or 15.9 in float32), the right ones ~0
    assert loss == pytest.approx(-np.log(e) / 2, rel=1e-6)
    assert grad[2] < 0 < grad[3]  # the gradient still points towards the right answer


def test_float32_clipping_uses_the_machine_epsilon_on_both_sides(strict_fp):
    """In float32, 1 - 1e-12 rounds to 1: the margin becomes float32's eps, the same on both sides.

    The old bounds (1e-12 below, the float just under 1 above) charged a certain wrong answer 27.6
    on one side and 16.6 on the other; one margin charges -log(eps32) = 15.94 for both.
    """
    eps32 = float(np.finfo(np.float32).eps)
    prob = np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32)
    target = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    loss, dprob = losses.binary_cross_entropy(prob, target)
    assert loss == pytest.approx(-2 * np.log(eps32) / 4, rel=1e-6)
    assert dprob.dtype == np.float32 and np.all(np.isfinite(dprob))
    assert dprob[0] == pytest.approx(-dprob[1], rel=1e-6)  # symmetric: the same pull from either side
    expected = np.array([-1 / eps32, 1 / eps32, 1 / (1 - eps32), -1 / (1 - eps32)]) / 4
    np.testing.assert_allclose(dprob, expected, rtol=1e-6)


def test_clip_epsilon_is_eps_in_float64_and_machine_epsilon_in_float32():
    assert losses.clip_epsilon(1e-12, np.dtype(np.float64)) == 1e-12
    assert losses.clip_epsilon(1e-12, np.dtype(np.float32)) == np.finfo(np.float32).eps
    assert losses.clip_epsilon(1e-3, np.dtype(np.float32)) == 1e-3  # a larger eps is kept as given
    assert np.float32(1) - np.float32(losses.clip_epsilon(1e-12, np.dtype(np.float32))) < 1


@pytest.mark.parametrize("eps", [1e-3, 1e-6])
def test_binary_cross_entropy_uses_its_eps_argument(eps):
    loss, dprob = losses.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0]), eps=eps)
    assert loss == pytest.approx(-np.log(eps), rel=1e-9)  # both clipped to a margin of eps
    np.testing.assert_allclose(dprob, np.array([-1, 1]) / eps / 2, rtol=1e-9)


@pytest.mark.parametrize("eps, error", [(0.0, ValueError), (0.5, ValueError), (-1e-3, ValueError),
                                        (float("nan"), ValueError), ("1e-12", TypeError), (None, TypeError)])
def test_binary_cross_entropy_rejects_a_bad_eps(eps, error):
    with pytest.raises(error, match="eps"):
        losses.binary_cross_entropy(np.array([0.5]), np.array([1.0]), eps=eps)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_on_sigmoid"])
@pytest.mark.parametrize("bad", [-0.5, 1.5, float("nan")])
def test_binary_losses_reject_targets_outside_the_unit_interval(name, bad):
    with pytest.raises(ValueError, match=r"target must hold values in \[0, 1\]"):
        getattr(losses, name)(np.array([0.5, 0.25]), np.array([1.0, bad]))


@pytest.mark.parametrize("name", NAMES)
def test_float32_prediction_with_float64_target_gives_a_float32_gradient(name, rng):
    """The gradient has the prediction's dtype whatever the target's (the package's dtype rule)."""
    prob, target = binary_data(rng)
    pred = rng.standard_normal((4, 3))
    first = {"binary_cross_entropy": prob}.get(name, pred).astype(np.float32)
    second = rng.integers(0, 3, 4) if name == "softmax_cross_entropy" else target  # float64 targets
    loss, dpred = getattr(losses, name)(first, second)
    assert isinstance(loss, float) and dpred.dtype == np.float32 and dpred.shape == first.shape


@pytest.mark.parametrize("name", NAMES)
def test_views_give_the_same_answer_as_contiguous_copies(name, rng):
    """A transposed view (Fortran order) and a strided slice give exactly the contiguous answer."""
    f, pred = loss_cases(rng)[name]
    big = np.zeros((pred.shape[1], 2 * pred.shape[0]))
    big[:, ::2] = pred.T
    for view in (np.ascontiguousarray(pred.T).T, big[:, ::2].T):
        assert not view.flags.c_contiguous
        loss, dpred = f(view)
        expected_loss, expected = f(np.ascontiguousarray(view))
        assert loss == expected_loss
        np.testing.assert_array_equal(dpred, expected)


def test_mse_on_sigmoid_saturates_where_cross_entropy_does_not(strict_fp):
    z, t = np.array([1e4, -1e4, 12.0, -12.0]), np.array([0.0, 1.0, 0.0, 1.0])  # confidently wrong
    loss, grad = losses.mse_on_sigmoid(z, t)
    assert loss == pytest.approx(1.0, rel=1e-5) and np.all(np.isfinite(grad))
    assert np.all(np.abs(grad) < 1e-5)  # s (1 - s) vanishes: almost no signal to learn from
    _, bce_grad = losses.binary_cross_entropy_with_logits(z, t)
    np.testing.assert_allclose(np.abs(bce_grad), 1 / 4, rtol=1e-5)


def test_mse_of_large_values(strict_fp):
    loss, grad = losses.mse(np.array([1e4, -1e4]), np.array([-1e4, 1e4]))
    assert loss == 4e8
    np.testing.assert_array_equal(grad, [2e4, -2e4])


# ---------------------------------------------------------------- validation


def test_shape_mismatch_is_rejected_naming_both_shapes():
    for f in (losses.mse, losses.binary_cross_entropy, losses.binary_cross_entropy_with_logits, losses.mse_on_sigmoid):
        with pytest.raises(ValueError, match=r"\(4,\) and \(4, 1\)"):
            f(np.full(4, 0.5), np.zeros((4, 1)))  # a column of targets would broadcast to (4, 4)


def test_binary_cross_entropy_rejects_logits():
    with pytest.raises(ValueError, match="with_logits"):
        losses.binary_cross_entropy(np.array([2.5, -1.0]), np.array([1.0, 0.0]))


def test_softmax_cross_entropy_validation():
    with pytest.raises(ValueError, match=r"\(N, K\).*\(4,\)"):
        losses.softmax_cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match=r"\(3,\), got shape \(2,\)"):
        losses.softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        losses.softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(TypeError, match="integer"):
        losses.softmax_cross_entropy(np.zeros((2, 4)), np.array([0.0, 1.0]))


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="at least one element"):
        losses.mse(np.zeros(0), np.zeros(0))
