"""Tests of nnlib.normalization: batch normalisation in training and evaluation mode."""

import numpy as np
import pytest

from nnlib.gradcheck import check_backward, check_gradient
from nnlib.normalization import batchnorm_backward, batchnorm_forward
from nnlib.tolerances import GRAD_RTOL

pytestmark = pytest.mark.ch04


def batch(rng, n=8, d=4, dtype=np.float64):
    """Features with different means and scales, and non-trivial gamma and beta."""
    x = rng.uniform(-5, 5, d) + rng.uniform(0.5, 3, d) * rng.standard_normal((n, d))
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    return x.astype(dtype), gamma.astype(dtype), beta.astype(dtype)


def running_stats(rng, d=4):
    return {"mean": rng.standard_normal(d), "var": rng.uniform(0.5, 2, d)}


def bn_train(**kw):
    return lambda x, gamma, beta: batchnorm_forward(x, gamma, beta, None, training=True, **kw)[:2]


# ---------------------------------------------------------------- hand-computed values


def test_training_forward_hand_computed():
    x = np.array([[1.0, 0.0], [3.0, 4.0], [5.0, 8.0]])  # means 3, 4; variances 8/3, 32/3
    out, _, running = batchnorm_forward(
        x, np.array([2.0, 1.0]), np.array([0.0, 1.0]), None, training=True, momentum=0.5, eps=0.0
    )
    z = np.sqrt(1.5)  # (5 - 3) / sqrt(8 / 3)
    np.testing.assert_allclose(out, [[-2 * z, 1 - z], [0.0, 1.0], [2 * z, 1 + z]], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(running["mean"], [1.5, 2.0])  # 0.5 * 0 + 0.5 * batch mean
    np.testing.assert_allclose(running["var"], [0.5 + 4 / 3, 0.5 + 16 / 3])  # biased (1/N) variance


def test_eval_forward_hand_computed():
    running = {"mean": np.array([1.0, 2.0]), "var": np.array([4.0, 9.0])}
    out, _, new_running = batchnorm_forward(
        np.array([[3.0, 2.0], [-1.0, 8.0]]), np.array([1.0, 3.0]), np.array([0.5, 0.0]), running, training=False, eps=0.0
    )
    np.testing.assert_allclose(out, [[1.5, 0.0], [-0.5, 6.0]])
    np.testing.assert_array_equal(new_running["mean"], running["mean"])
    np.testing.assert_array_equal(new_running["var"], running["var"])


# ---------------------------------------------------------------- properties on random inputs


def test_training_output_has_zero_mean_unit_variance_per_feature(rng):
    x, _, _ = batch(rng, n=64, d=6)
    out, _, _ = batchnorm_forward(x, np.ones(6), np.zeros(6), None, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    # var(out) = var / (var + eps) with var >= 0.25 here: within 4e-5 of 1
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=5e-5)


def test_gamma_and_beta_set_the_output_scale_and_shift(rng):
    x, gamma, beta = batch(rng, n=64)
    out, _, _ = batchnorm_forward(x, gamma, beta, None, training=True)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=5e-5)


def test_eval_mode_uses_running_statistics_not_the_batch(rng):
    x, gamma, beta = batch(rng)
    running = running_stats(rng)
    out, _, _ = batchnorm_forward(x, gamma, beta, running, training=False, eps=1e-5)
    expected = gamma * (x - running["mean"]) / np.sqrt(running["var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # each example's output is independent of the rest of the batch
    single, _, _ = batchnorm_forward(x[:1], gamma, beta, running, training=False)
    np.testing.assert_allclose(single, out[:1], rtol=1e-12)
    train_out, _, _ = batchnorm_forward(x, gamma, beta, running, training=True)
    assert not np.allclose(train_out, out)


def test_running_statistics_are_returned_not_mutated(rng):
    x, gamma, beta = batch(rng)
    running = running_stats(rng)
    frozen = {k: v.copy() for k, v in running.items()}
    _, _, new_running = batchnorm_forward(x, gamma, beta, running, training=True, momentum=0.8)
    assert set(running) == {"mean", "var"}
    for k in running:
        np.testing.assert_array_equal(running[k], frozen[k])
    np.testing.assert_allclose(new_running["mean"], 0.8 * frozen["mean"] + 0.2 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(new_running["var"], 0.8 * frozen["var"] + 0.2 * x.var(axis=0), rtol=1e-12)
    # in eval mode the returned statistics are equal but separate arrays
    _, _, same = batchnorm_forward(x, gamma, beta, running, training=False)
    same["mean"] += 1
    np.testing.assert_array_equal(running["mean"], frozen["mean"])


def test_running_statistics_converge_to_the_data_statistics(rng):
    mean, std = np.array([3.0, -2.0]), np.array([0.5, 4.0])
    running = None  # starts at zeros and ones
    for _ in range(200):
        x = mean + std * rng.standard_normal((256, 2))
        _, _, running = batchnorm_forward(x, np.ones(2), np.zeros(2), running, training=True)
    # an average over about 19 batches of 256 rows: standard error about std / 70
    assert np.all(np.abs(running["mean"] - mean) < 0.05 * std)
    np.testing.assert_allclose(running["var"], std**2, rtol=0.05)


# ---------------------------------------------------------------- gradients


# N = 2 is left out: two rows always normalise to about -1 and +1, so dx is of order eps and
# its relative error measures only rounding noise.
@pytest.mark.parametrize("n, d", [(8, 4), (3, 3), (5, 1)])
def test_training_gradient_check_and_shapes(n, d, rng):
    x, gamma, beta = batch(rng, n, d)
    _, cache, _ = batchnorm_forward(x, gamma, beta, None, training=True)
    dx, dgamma, dbeta = batchnorm_backward(rng.standard_normal((n, d)), cache)
    assert (dx.shape, dgamma.shape, dbeta.shape) == (x.shape, gamma.shape, beta.shape)
    errors = check_backward(bn_train(), batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, name="batchnorm")
    assert max(errors.values()) < GRAD_RTOL


def test_eval_gradient_check(rng):
    x, gamma, beta = batch(rng)
    running = running_stats(rng)
    forward = lambda x, gamma, beta: batchnorm_forward(x, gamma, beta, running, training=False)[:2]  # noqa: E731
    check_backward(forward, batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, name="batchnorm eval")


def test_gradient_with_input_used_twice(rng):
    """f(x) = batchnorm(x) * x: x reaches the output directly and through the normalisation."""
    x, gamma, beta = batch(rng, n=6, d=3)
    dout = rng.standard_normal((6, 3))
    out, cache, _ = batchnorm_forward(x, gamma, beta, None, training=True)
    dx = batchnorm_backward(dout * x, cache)[0] + dout * out
    f = lambda v: np.sum(batchnorm_forward(v, gamma, beta, None, training=True)[0] * v * dout)  # noqa: E731
    check_gradient(f, x, dx, name="batchnorm(x) * x")


def test_gradient_with_respect_to_x_sums_to_zero_per_feature(rng):
    """Shifting a feature's whole column does not change the training output."""
    x, gamma, beta = batch(rng)
    _, cache, _ = batchnorm_forward(x, gamma, beta, None, training=True)
    dx, _, _ = batchnorm_backward(rng.standard_normal(x.shape), cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)


# ---------------------------------------------------------------- dtype and inputs


def test_float32_in_float32_out(rng):
    x, gamma, beta = batch(rng, dtype=np.float32)
    for training in (True, False):
        out, cache, running = batchnorm_forward(x, gamma, beta, None, training=training)
        assert out.dtype == np.float32
        assert running["mean"].dtype == running["var"].dtype == np.float32
        grads = batchnorm_backward(np.ones_like(x), cache)
        assert [g.dtype for g in grads] == [np.float32] * 3


def test_inputs_are_not_modified(rng):
    x, gamma, beta = batch(rng)
    dout = rng.standard_normal(x.shape)
    arrays = (x, gamma, beta, dout)
    before = [a.copy() for a in arrays]
    for training in (True, False):
        _, cache, _ = batchnorm_forward(x, gamma, beta, None, training=training)
        batchnorm_backward(dout, cache)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize("scale", [1e3, 1e4, -1e3, -1e4])
def test_large_offsets_and_constant_features(scale, rng, strict_fp):
    x = scale + rng.standard_normal((16, 3))
    x[:, 2] = scale  # a constant feature: variance 0, saved by eps
    out, cache, running = batchnorm_forward(x, np.ones(3), np.zeros(3), None, training=True)
    np.testing.assert_allclose(out[:, :2].mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(out[:, :2].var(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(out[:, 2], 0.0)
    grads = batchnorm_backward(scale * np.ones_like(x), cache)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.all(np.isfinite(running["mean"])) and np.all(np.isfinite(running["var"]))


def test_large_spread(rng, strict_fp):
    x = 1e4 * rng.choice([-1.0, 1.0], size=(10, 2))
    x[:2] = [[1e4, -1e4], [-1e4, 1e4]]  # both signs in each column
    out, _, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), None, training=True)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)


# ---------------------------------------------------------------- validation


def test_validation(rng):
    x, gamma, beta = batch(rng)  # (8, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\) \(2-D\), got shape \(4,\)"):
        batchnorm_forward(x[0], gamma, beta, None, training=True)
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\), got shape \(1, 4\)"):
        batchnorm_forward(x, gamma[None], beta, None, training=True)
    with pytest.raises(ValueError, match=r"running\[\"var\"\] must have shape \(4,\), got shape \(3,\)"):
        batchnorm_forward(x, gamma, beta, {"mean": np.zeros(4), "var": np.ones(3)}, training=False)
    with pytest.raises(ValueError, match="running must be None or a dict"):
        batchnorm_forward(x, gamma, beta, {"mu": np.zeros(4)}, training=False)
    with pytest.raises(ValueError, match=r"at least 2 rows.*\(1, 4\)"):
        batchnorm_forward(x[:1], gamma, beta, None, training=True)
    batchnorm_forward(x[:1], gamma, beta, None, training=False)  # one example is fine in eval mode
    _, cache, _ = batchnorm_forward(x, gamma, beta, None, training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(8, 4\), got shape \(4, 8\)"):
        batchnorm_backward(np.ones((4, 8)), cache)


@pytest.mark.parametrize("training", [True, False])
def test_backward_returns_the_forward_dtypes_whatever_douts(training, rng):
    x, gamma, beta = batch(rng, dtype=np.float32)
    _, cache, _ = batchnorm_forward(x, gamma, beta, None, training=training)
    dx, dgamma, dbeta = batchnorm_backward(rng.standard_normal(x.shape), cache)  # float64 dout
    assert (dx.dtype, dgamma.dtype, dbeta.dtype) == (np.float32,) * 3


def test_bad_options_are_value_errors_and_training_a_bool(rng):
    x, gamma, beta = batch(rng)
    with pytest.raises(ValueError, match=r"eps must be >= 0, got -1e-05"):
        batchnorm_forward(x, gamma, beta, None, training=True, eps=-1e-5)
    for momentum in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
            batchnorm_forward(x, gamma, beta, None, training=True, momentum=momentum)
    with pytest.raises(TypeError, match="training must be True or False"):
        batchnorm_forward(x, gamma, beta, None, training="eval")
    with pytest.raises(TypeError):
        batchnorm_forward(x, gamma, beta, None, True)  # training is keyword only


@pytest.mark.parametrize("training", [True, False])
def test_running_dict_and_its_arrays_are_left_alone_and_new_ones_returned(training, rng):
    x, gamma, beta = batch(rng)
    running = {"mean": rng.standard_normal(4), "var": rng.uniform(0.5, 2, 4)}
    given = dict(running)
    before = {k: v.copy() for k, v in running.items()}
    _, _, new = batchnorm_forward(x, gamma, beta, running, training=training)
    assert running == given and all(np.array_equal(running[k], before[k]) for k in before)
    assert new is not running and all(new[k] is not running[k] for k in running)
