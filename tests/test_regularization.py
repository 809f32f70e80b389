"""Tests of nnlib.regularization: the L2 penalty and inverted dropout."""

import numpy as np
import pytest

from nnlib.gradcheck import check_backward, check_gradient
from nnlib.regularization import dropout_backward, dropout_forward, l2_penalty, l2_penalty_gradient
from nnlib.tolerances import GRAD_RTOL

pytestmark = pytest.mark.ch04

# ---------------------------------------------------------------- L2 penalty


def test_l2_penalty_hand_computed():
    assert l2_penalty(np.array([[1.0, -2.0], [0.0, 3.0]]), lam=0.5) == pytest.approx(7.0)
    assert l2_penalty((np.array([1.0]), np.array([[2.0, 2.0]])), lam=0.1) == pytest.approx(0.9)
    assert l2_penalty([], lam=1.0) == 0.0
    assert isinstance(l2_penalty(np.ones(3, dtype=np.float32), lam=1.0), float)
    np.testing.assert_array_equal(l2_penalty_gradient(np.array([1.0, -3.0]), lam=0.25), [0.5, -1.5])


def test_l2_penalty_gradient_check(rng):
    w = rng.standard_normal((4, 3))
    assert check_gradient(lambda v: l2_penalty(v, lam=0.3), w, l2_penalty_gradient(w, lam=0.3)) < GRAD_RTOL


def test_l2_penalty_of_a_weight_listed_twice(rng):
    w = rng.standard_normal((3, 2))
    check_gradient(lambda v: l2_penalty([v, v], lam=0.3), w, 2 * l2_penalty_gradient(w, lam=0.3))


def test_l2_penalty_gradient_dtype_and_inputs(rng):
    w = rng.standard_normal(5).astype(np.float32)
    before = w.copy()
    grad = l2_penalty_gradient(w, lam=0.1)
    assert grad.dtype == np.float32 and grad.shape == w.shape
    l2_penalty([w], lam=0.1)
    np.testing.assert_array_equal(w, before)


def test_l2_penalty_rejects_negative_lambda():
    with pytest.raises(ValueError, match="lam"):
        l2_penalty(np.ones(2), lam=-1.0)
    with pytest.raises(ValueError, match="lam"):
        l2_penalty_gradient(np.ones(2), lam=-1.0)


# ---------------------------------------------------------------- dropout: values


def test_dropout_is_the_identity_when_not_training(rng):
    x = rng.standard_normal((3, 4))
    out, cache = dropout_forward(x, 0.7, training=False)  # no rng needed
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)  # a new array: writing to it cannot change x
    dout = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_dropout_hand_computed(rng):
    x = np.array([[1.0, 2.0, 3.0, 4.0]] * 50)
    out, _ = dropout_forward(x, 0.75, training=True, rng=rng)
    # each unit is either dropped or kept and scaled by 1 / (1 - 0.75) = 4
    assert np.all((out == 0) | (out == 4 * x))
    assert 0 < np.count_nonzero(out) < out.size


def test_dropout_keeps_the_mean_in_expectation(rng):
    n, drop_prob = 40_000, 0.3
    x = np.tile(rng.uniform(1, 3, 5), (n, 1))  # each column holds one value
    out, _ = dropout_forward(x, drop_prob, training=True, rng=rng)
    assert set(np.unique(out / x).round(12)) == {0.0, round(1 / 0.7, 12)}
    # out / x is 0 or 1/(1-p): mean 1, standard deviation sqrt(p/(1-p)) = 0.65; 5 standard errors
    tolerance = 5 * np.sqrt(drop_prob / (1 - drop_prob) / n)
    np.testing.assert_allclose(out.mean(axis=0) / x[0], 1.0, atol=tolerance)


@pytest.mark.parametrize("drop_prob", [0.1, 0.9])
def test_drop_prob_is_the_probability_of_dropping(drop_prob, rng):
    out, _ = dropout_forward(np.ones(100_000), drop_prob, training=True, rng=rng)
    assert np.mean(out == 0) == pytest.approx(drop_prob, abs=0.005)  # 5 standard errors at most


def test_drop_prob_zero_keeps_everything(rng):
    x = rng.standard_normal((4, 4))
    out, _ = dropout_forward(x, 0.0, training=True, rng=rng)
    np.testing.assert_array_equal(out, x)


def test_dropout_never_touches_numpys_global_random_state(rng):
    before = np.random.get_state()
    dropout_forward(np.ones((50, 50)), 0.5, training=True, rng=rng)
    dropout_forward(np.ones((50, 50)), 0.5, training=False)
    after = np.random.get_state()
    assert before[0] == after[0] and before[2:] == after[2:]
    np.testing.assert_array_equal(before[1], after[1])


def test_dropout_is_reproducible_from_the_seed_and_advances_the_generator():
    x = np.ones((10, 10))
    a, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    b, _ = dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    generator = np.random.default_rng(3)
    first, _ = dropout_forward(x, 0.5, training=True, rng=generator)
    second, _ = dropout_forward(x, 0.5, training=True, rng=generator)
    assert not np.array_equal(first, second)  # a new mask at each call, not a reseeded one


# ---------------------------------------------------------------- dropout: gradients


def seeded_dropout(drop_prob, seed=11):
    """Forward with a fresh generator of a fixed seed: every call draws the same mask."""
    return lambda x: dropout_forward(x, drop_prob, training=True, rng=np.random.default_rng(seed))


def test_dropout_gradient_check(rng):
    x = rng.standard_normal((5, 6))
    errors = check_backward(seeded_dropout(0.4), dropout_backward, {"x": x}, name="dropout")
    assert errors["x"] < GRAD_RTOL
    check_backward(lambda v: dropout_forward(v, 0.4, training=False), dropout_backward, {"x": x})


def test_dropout_gradient_with_input_used_twice(rng):
    """f(x) = dropout(x) * x."""
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    forward = seeded_dropout(0.5)
    out, cache = forward(x)
    dx = dropout_backward(dout * x, cache) + dout * out
    check_gradient(lambda v: np.sum(forward(v)[0] * v * dout), x, dx, name="dropout(x) * x")


def test_dropout_backward_uses_the_forward_mask(rng):
    out, cache = dropout_forward(np.ones((20, 20)), 0.5, training=True, rng=rng)
    dx = dropout_backward(np.ones((20, 20)), cache)
    np.testing.assert_array_equal(dx, out)  # dropped where the forward dropped, scaled the same


# ---------------------------------------------------------------- dtype, inputs, stability, validation


def test_dropout_float32_and_inputs_unchanged(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    before = x.copy()
    for training in (True, False):
        out, cache = dropout_forward(x, 0.5, training=training, rng=rng)
        assert out.dtype == np.float32 and out.shape == x.shape
        assert dropout_backward(np.ones_like(x), cache).dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_dropout_of_large_values(rng, strict_fp):
    x = np.array([1e4, -1e4, 1e3, -1e3] * 25)
    out, cache = dropout_forward(x, 0.5, training=True, rng=rng)
    assert np.all((out == 0) | (out == 2 * x))
    assert np.all(np.isfinite(dropout_backward(1e4 * np.ones_like(x), cache)))


def test_dropout_validation(rng):
    with pytest.raises(TypeError, match="default_rng"):
        dropout_forward(np.ones(3), 0.5, training=True)  # no rng
    with pytest.raises(TypeError, match="default_rng"):
        dropout_forward(np.ones(3), 0.5, training=True, rng=np.random)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"drop_prob must be in \[0, 1\)"):
            dropout_forward(np.ones(3), bad, training=False)
    _, cache = dropout_forward(np.ones((2, 3)), 0.5, training=True, rng=rng)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\), got shape \(3, 2\)"):
        dropout_backward(np.ones((3, 2)), cache)


@pytest.mark.parametrize("training", [True, False])
def test_dropout_backward_returns_the_forward_inputs_dtype_whatever_douts(training, rng):
    # nnlib's dtype rule: a float32 forward and a float64 dout give a float32 dx
    x = rng.standard_normal((4, 5)).astype(np.float32)
    _, cache = dropout_forward(x, 0.3, training=training, rng=rng)
    dx = dropout_backward(rng.standard_normal((4, 5)), cache)
    assert dx.dtype == np.float32 and dx.shape == x.shape


@pytest.mark.parametrize("training", ["eval", 0, None, 1.0])
def test_dropout_training_must_be_a_bool(training, rng):
    with pytest.raises(TypeError, match="training must be True or False"):
        dropout_forward(np.ones(3), 0.5, training=training, rng=rng)


@pytest.mark.parametrize("lam", [np.nan, "0.1", None, [0.1]])
def test_l2_lambda_must_be_a_number(lam):
    with pytest.raises(ValueError, match="lam must be a number >= 0"):
        l2_penalty(np.ones(2), lam=lam)
    with pytest.raises(ValueError, match="lam must be a number >= 0"):
        l2_penalty_gradient(np.ones(2), lam=lam)


def test_dropout_rng_is_keyword_only(rng):
    with pytest.raises(TypeError):
        dropout_forward(np.ones(3), 0.5, True, rng)  # noqa: the convention: options and rng by keyword
